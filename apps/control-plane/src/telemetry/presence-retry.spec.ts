import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { envelopeFields, type PresenceMessage } from '#protocol';
import { PresenceRetry } from './presence-retry.js';

const presence = (online: boolean): PresenceMessage => ({ ...envelopeFields(), online });
class Unreachable extends Error {}

/** A store that records what it was given, or fails while `down`. */
function store() {
  const state = { down: false, written: [] as [string, boolean][] };
  const retry = new PresenceRetry({
    write: async (nodeId, p) => {
      if (state.down) throw new Unreachable('database down');
      state.written.push([nodeId, p.online]);
    },
    isTransient: (e) => e instanceof Unreachable,
    retryMs: 1000,
    maxPending: 2,
  });
  return { state, retry };
}

describe('PresenceRetry', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('keeps the latest presence per node while the database is down and stores it once it is back', async () => {
    const { state, retry } = store();
    state.down = true;
    await retry.record('n1', presence(true));
    await retry.record('n1', presence(false));
    expect(retry.waiting).toBe(1);
    await jest.advanceTimersByTimeAsync(1000);
    expect(state.written).toEqual([]);
    state.down = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(state.written).toEqual([['n1', false]]);
    expect(retry.waiting).toBe(0);
  });

  it('never writes an older presence after a newer one stored directly', async () => {
    const { state, retry } = store();
    state.down = true;
    await retry.record('n1', presence(false));
    state.down = false;
    await retry.record('n1', presence(true));
    await jest.advanceTimersByTimeAsync(5000);
    expect(state.written).toEqual([['n1', true]]);
  });

  it('bounds the nodes waiting, rethrows a failure retrying would not cure, and stops on close', async () => {
    const { state, retry } = store();
    state.down = true;
    await retry.record('n1', presence(false));
    await retry.record('n2', presence(false));
    await retry.record('n3', presence(false));
    expect(retry.waiting).toBe(2);
    const refusing = new PresenceRetry({ write: () => Promise.reject(new Error('bad row')), isTransient: () => false, retryMs: 1000, maxPending: 10 });
    await expect(refusing.record('n1', presence(true))).rejects.toThrow('bad row');
    expect(retry.close()).toBe(2);
    state.down = false;
    await jest.advanceTimersByTimeAsync(5000);
    expect(state.written).toEqual([]);
  });

  it('takes a new presence at once while a retry round is writing (it must not hold the node traffic behind it)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let down = true;
    const written: [string, boolean][] = [];
    const retry = new PresenceRetry({
      write: async (nodeId, p) => {
        if (down) throw new Unreachable('database down');
        await gate; // a slow round: the first write of it waits here
        written.push([nodeId, p.online]);
      },
      isTransient: (e) => e instanceof Unreachable,
      retryMs: 1000,
      maxPending: 10,
    });
    await retry.record('n1', presence(false));
    down = false;
    await jest.advanceTimersByTimeAsync(1000); // the round starts and blocks on its first write
    let settled = false;
    void retry.record('n2', presence(true)).then(() => (settled = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(settled).toBe(true);
    release();
    await jest.advanceTimersByTimeAsync(1000);
    expect(written).toEqual([['n1', false], ['n2', true]]);
  });
});
