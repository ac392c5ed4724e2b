import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { scrapeRead } from './scrape-read.js';

describe('scrapeRead', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('gives the read’s value, undefined for a failed read, and undefined for one that does not answer in time', async () => {
    expect(await scrapeRead(async () => 42)).toBe(42);
    expect(await scrapeRead(async () => Promise.reject(new Error('connection refused')))).toBeUndefined();
    const hanging = scrapeRead(() => new Promise<number>(() => undefined), 1000);
    await jest.advanceTimersByTimeAsync(999);
    let settled = false;
    void hanging.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(await hanging).toBeUndefined();
  });
});
