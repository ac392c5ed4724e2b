import { ApiProblemError } from '#api-client';
import { describe, expect, it } from '@jest/globals';
import { ExitCode, fromProblem } from './exit-codes.js';

describe('fromProblem (an API failure in words)', () => {
  it('says what to do at the event-stream limit (429): close other streams or raise the setting', () => {
    const problem = { type: 'about:blank', title: 'Too Many Requests', status: 429, detail: 'at most 5 event streams per API key on this replica' };
    const failure = fromProblem(new ApiProblemError(429, problem));
    expect(failure.message).toBe('Too Many Requests: at most 5 event streams per API key on this replica');
    expect(failure.hint).toMatch(/console tabs/);
    expect(failure.hint).toContain('EVENTS_STREAM_MAX_PER_KEY');
    expect(failure.exitCode).toBe(ExitCode.failed);
  });
});
