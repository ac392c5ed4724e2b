import { settleWithin } from '#common';

/** How long one collector may wait for its read before the scrape goes on without it. */
export const SCRAPE_READ_MS = 1000;

/**
 * A collector's read, bounded (`settleWithin`): resolves undefined when the read fails or takes longer
 * than `ms`, so a database that is away or stalled cannot hang or fail the whole `/metrics` scrape. The
 * caller then keeps the series' last values (a reset would read as zero: "no lag", "no nodes").
 */
export async function scrapeRead<T>(read: () => Promise<T>, ms: number = SCRAPE_READ_MS): Promise<T | undefined> {
  let value: T | undefined;
  const outcome = await settleWithin(
    read().then((v) => void (value = v)),
    ms,
    () => undefined, // a read that fails after the scrape went on: nothing to report to
  ).catch(() => 'failed' as const);
  return outcome === 'done' ? value : undefined;
}
