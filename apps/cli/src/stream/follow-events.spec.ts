import { describe, expect, it } from '@jest/globals';
import { ApiProblemError } from '#api-client';
import { StreamDataError, StreamEndedError, StreamIdleError } from './event-stream.js';
import { DEFAULT_RECONNECT, isRetryable, reconnectDelay } from './follow-events.js';

describe('reconnecting to the event stream', () => {
  it('doubles the wait from the initial one up to the cap, jittered within [½, 1] of it', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7, 50].map((attempt) => reconnectDelay(attempt, DEFAULT_RECONNECT, () => 1));
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    expect(reconnectDelay(3, DEFAULT_RECONNECT, () => 0)).toBe(1000);
  });

  it('retries what a reconnect can fix and gives up on refusals and broken data', () => {
    const problem = (status: number) => new ApiProblemError(status, { type: 'about:blank', title: 'x', status });
    const cases: [unknown, boolean][] = [
      [new TypeError('fetch failed'), true],
      [new StreamEndedError(), true],
      [new StreamIdleError(45_000), true],
      [problem(503), true],
      [problem(429), true],
      [problem(401), false],
      [problem(400), false],
      [new StreamDataError('not JSON'), false],
    ];
    for (const [error, retryable] of cases) expect({ error: String(error), retryable: isRetryable(error) }).toEqual({ error: String(error), retryable });
  });
});
