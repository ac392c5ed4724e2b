import type { ByteRange } from './artifact-store.js';

/** What a download request gets, decided from its headers alone (the bytes come from the store). */
export type DownloadPlan =
  | { readonly status: 200 }
  | { readonly status: 206; readonly range: ByteRange }
  | { readonly status: 304 | 416 };

export interface DownloadRequest {
  readonly size: number;
  /** The strong ETag, quoted. */
  readonly etag: string;
  readonly range?: string;
  readonly ifRange?: string;
  readonly ifNoneMatch?: string;
  /**
   * Express's `req.range(size, { combine: true })` (the range-parser package): -1 unsatisfiable,
   * -2 malformed, else the ranges.
   */
  readonly parseRange: (size: number) => -1 | -2 | readonly { start: number; end: number }[] | undefined;
}

/**
 * Conditional and ranged GET as `send` (Express's sendFile) answers it, for both store drivers: a matching
 * If-None-Match is 304; a Range is honoured only when If-Range (if any) names our ETag; one satisfiable
 * range is a 206, an unsatisfiable one 416, a malformed one or several ranges the whole artifact.
 */
export function planDownload(request: DownloadRequest): DownloadPlan {
  if (request.ifNoneMatch !== undefined && etagListMatches(request.ifNoneMatch, request.etag)) return { status: 304 };
  if (request.range === undefined || !/^ *bytes=/.test(request.range)) return { status: 200 };
  if (request.ifRange !== undefined && request.ifRange.trim() !== request.etag) return { status: 200 };
  const ranges = request.parseRange(request.size);
  if (ranges === -1) return { status: 416 };
  if (ranges === -2 || ranges === undefined || ranges.length !== 1) return { status: 200 };
  const [only] = ranges as [{ start: number; end: number }];
  return { status: 206, range: { start: only.start, end: only.end } };
}

function etagListMatches(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}
