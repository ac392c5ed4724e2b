/** How long one collector may wait for its read before the scrape goes on without it. */
export const SCRAPE_READ_MS = 1000;

/**
 * A collector's read, bounded: resolves undefined when the read fails or takes longer than `ms`, so a
 * database that is away or stalled cannot hang or fail the whole `/metrics` scrape. The caller then
 * keeps the series' last values (a reset would read as zero: "no lag", "no nodes").
 */
export async function scrapeRead<T>(read: () => Promise<T>, ms: number = SCRAPE_READ_MS): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([read().catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
