import { describe, expect, it } from '@jest/globals';
import { runQueueWaitMs, timeLessWait } from './thread-scheduling.js';

/** Clocks that move only when the test says so, recording the order they were read in. */
function fakeClocks(waits: (number | undefined)[]) {
  const reads: string[] = [];
  let time = 100;
  return {
    reads,
    advance: (ms: number) => (time += ms),
    clocks: {
      now: () => (reads.push('now'), time),
      waited: () => (reads.push('waited'), waits.shift()),
    },
  };
}

describe('timeLessWait', () => {
  it("takes the thread's wait for a core during the run off its wall time, reading the wait inside the timed window", async () => {
    const c = fakeClocks([40, 47]);
    const { value, ms } = await timeLessWait(async () => (c.advance(10), 'answer'), c.clocks);
    expect(value).toBe('answer');
    expect(ms).toBe(3); // 10 ms of wall time, 7 of them waiting for a core
    expect(c.reads).toEqual(['now', 'waited', 'waited', 'now']);
  });

  it('gives the wall time where the wait cannot be read, and never less than 0', async () => {
    const unreadable = fakeClocks([undefined]);
    expect((await timeLessWait(async () => unreadable.advance(5), unreadable.clocks)).ms).toBe(5);
    const goneMidRun = fakeClocks([1, undefined]); // the thread's schedstat vanished meanwhile
    expect((await timeLessWait(async () => goneMidRun.advance(5), goneMidRun.clocks)).ms).toBe(5);
    const skewed = fakeClocks([0, 9]);
    expect((await timeLessWait(async () => skewed.advance(5), skewed.clocks)).ms).toBe(0);
  });

  it("reads this thread's real wait for a core (Linux schedstat): a number that never goes down", () => {
    const first = runQueueWaitMs();
    expect(first).toBeGreaterThanOrEqual(0);
    expect(runQueueWaitMs()).toBeGreaterThanOrEqual(first as number);
  });
});
