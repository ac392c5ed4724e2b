import type { NextFunction, Request, Response } from 'express';

/**
 * The API reference (Swagger UI at /docs) shares the console's origin, so a script injected there could
 * read the console's session storage: it gets a policy as strict as Swagger UI allows. Its scripts are
 * files of its own (`swagger-ui-bundle.js`, `swagger-ui-init.js`), so scripts stay 'self' only. Its page
 * has inline <style> blocks and a style attribute, hence 'unsafe-inline' for styles alone (styles cannot
 * run code). Icons are data: URIs; "Try it out" calls this origin only.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Mounted at /docs (which also covers its assets, /docs/…), before Swagger UI's own routes. */
export function docsSecurityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}
