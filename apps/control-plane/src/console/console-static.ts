import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Paths that belong to the API and its tooling: never answered with the console, so an unknown API path
 * stays a problem+json 404 instead of turning into an HTML page.
 */
const API_PREFIXES = ['/v1', '/docs', '/docs-json', '/health', '/metrics'];

/**
 * The console loads only its own bundle and talks only to its own origin. uPlot and Preact set styles
 * through the CSSOM (element.style), which style-src does not govern, so no 'unsafe-inline' is needed.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Express routes case-insensitively (`/V1/whoami` reaches the API), so the prefixes are compared the same way. */
const isApiPath = (path: string) => {
  const lower = path.toLowerCase();
  return API_PREFIXES.some((p) => lower === p || lower.startsWith(`${p}/`));
};

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/**
 * Serves the built console (Vite output: index.html + content-hashed files under assets/). Hashed assets
 * are cached for a year (a new build has new names); index.html is revalidated every time so a deploy is
 * seen at the next load. Any other GET outside the API gets index.html: the console routes in the browser.
 * Returns null when the folder holds no build (then nothing is served at `/`).
 */
export function consoleStatic(dir: string): RequestHandler | null {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) return null;
  const files = express.static(dir, {
    index: false,
    fallthrough: true,
    setHeaders: (res, path) => {
      securityHeaders(res as Response);
      const immutable = path.startsWith(join(dir, 'assets'));
      res.setHeader('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const sendIndex = (res: Response, next: NextFunction) => {
    securityHeaders(res);
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index, (error?: Error) => (error ? next(error) : undefined));
  };
  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isApiPath(req.path)) return next();
    if (req.path === '/' || req.path === '/index.html') return sendIndex(res, next);
    files(req, res, () => {
      // A missing hashed asset is a stale page asking for an old build: a 404, not the HTML shell.
      if (req.path.startsWith('/assets/')) return next();
      sendIndex(res, next);
    });
  };
}
