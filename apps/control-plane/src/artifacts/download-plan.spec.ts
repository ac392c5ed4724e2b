import { describe, expect, it } from '@jest/globals';
import { type DownloadRequest, planDownload } from './download-plan.js';

const etag = '"abc"';
/** A stand-in for range-parser over a single `bytes=a-b` (what the plan does with its answer is under test). */
const parseRange = (header: string) => (size: number) => {
  const ranges = header
    .replace(/^ *bytes=/, '')
    .split(',')
    .map((r) => r.trim().split('-').map((n) => (n === '' ? undefined : Number(n))));
  if (ranges.some(([a, b]) => (a === undefined && b === undefined) || Number.isNaN(a) || Number.isNaN(b))) return -2 as const;
  const parsed = ranges.map(([a, b]) => (a === undefined ? { start: size - (b as number), end: size - 1 } : { start: a, end: Math.min(b ?? size - 1, size - 1) }));
  const satisfiable = parsed.filter((r) => r.start < size);
  return satisfiable.length === 0 ? (-1 as const) : satisfiable;
};
const plan = (headers: Omit<Partial<DownloadRequest>, 'parseRange'>) => planDownload({ size: 1000, etag, ...headers, parseRange: parseRange(headers.range ?? '') });

describe('planDownload', () => {
  it('sends the whole artifact without a Range', () => {
    expect(plan({})).toEqual({ status: 200 });
  });

  it('sends one range as 206', () => {
    expect(plan({ range: 'bytes=100-199' })).toEqual({ status: 206, range: { start: 100, end: 199 } });
    expect(plan({ range: 'bytes=-10' })).toEqual({ status: 206, range: { start: 990, end: 999 } });
  });

  it('answers 416 for a range past the end', () => {
    expect(plan({ range: 'bytes=2000-' })).toEqual({ status: 416 });
  });

  it('sends the whole artifact for a malformed range, another unit or several ranges (as send does)', () => {
    expect(plan({ range: 'bytes=x-y' })).toEqual({ status: 200 });
    expect(plan({ range: 'items=0-1' })).toEqual({ status: 200 });
    expect(plan({ range: 'bytes=0-1, 500-501' })).toEqual({ status: 200 });
  });

  it('honours the range only when If-Range names this ETag', () => {
    expect(plan({ range: 'bytes=0-9', ifRange: etag })).toEqual({ status: 206, range: { start: 0, end: 9 } });
    expect(plan({ range: 'bytes=0-9', ifRange: '"other"' })).toEqual({ status: 200 });
  });

  it('answers 304 when If-None-Match names this ETag (or *)', () => {
    expect(plan({ ifNoneMatch: `"x", ${etag}` })).toEqual({ status: 304 });
    expect(plan({ ifNoneMatch: '*' })).toEqual({ status: 304 });
    expect(plan({ ifNoneMatch: '"x"', range: 'bytes=0-9' })).toEqual({ status: 206, range: { start: 0, end: 9 } });
  });
});
