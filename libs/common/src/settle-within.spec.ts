import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { settleWithin } from './settle-within.js';

describe('settleWithin', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('is done when the work resolves in time, and rejects when it fails in time', async () => {
    expect(await settleWithin(Promise.resolve(), 1000, () => undefined)).toBe('done');
    await expect(settleWithin(Promise.reject(new Error('refused')), 1000, () => undefined)).rejects.toThrow('refused');
  });

  it('answers late at the bound and reports a later failure instead of leaving it unhandled', async () => {
    let fail!: (error: Error) => void;
    const work = new Promise<void>((_, reject) => (fail = reject));
    const late: unknown[] = [];
    const outcome = settleWithin(work, 1000, (error) => late.push(error));
    await jest.advanceTimersByTimeAsync(1000);
    expect(await outcome).toBe('late');
    fail(new Error('Redis came back refusing'));
    await jest.advanceTimersByTimeAsync(0);
    expect(late).toEqual([new Error('Redis came back refusing')]);
  });
});
