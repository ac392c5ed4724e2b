import type { NextFunction, Request, Response } from 'express';
import { ValidationError } from '#common';

/**
 * No legitimate body nests deeper than this (a rollout strategy is about four levels). The bound keeps
 * recursive consumers downstream (class-transformer, class-validator) from overflowing the stack: a
 * body of a few thousand brackets fits well inside the size limit.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Why a parsed JSON value cannot be accepted, or undefined when it can: nested deeper than `maxDepth`,
 * or a string or key holding NUL (PostgreSQL stores NUL in neither text nor jsonb). Iterative, so the
 * check itself cannot overflow the stack whatever it is given.
 */
export function jsonShapeViolation(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value: current, depth } = item;
    if (typeof current === 'string') {
      if (current.includes('\0')) return 'strings must not contain NUL characters';
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return `JSON nests deeper than ${maxDepth} levels`;
    for (const [key, child] of Object.entries(current)) {
      if (key.includes('\0')) return 'keys must not contain NUL characters';
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  return undefined;
}

/** Runs after the JSON body parser: refuses what it parsed but the rest of the app must never see. */
export function jsonBodyGuard(req: Request, _res: Response, next: NextFunction): void {
  const violation = jsonShapeViolation(req.body);
  next(violation ? new ValidationError(`invalid JSON body: ${violation}`) : undefined);
}

/**
 * NUL can only reach us percent-encoded; no id, name or query value of ours may hold it, and PostgreSQL
 * would refuse it mid-query. One check here instead of one per parameter.
 */
export function urlGuard(req: Request, _res: Response, next: NextFunction): void {
  next(/%00/i.test(req.url) ? new ValidationError('the URL must not contain NUL characters (%00)') : undefined);
}
