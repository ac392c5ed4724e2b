import { describe, expect, it } from '@jest/globals';
import type { InferenceSession } from './engine.js';
import { NoModelLoadedError, SessionHolder } from './session-holder.js';

/** A session whose runs finish when told to, and which fails any run after dispose. */
function controllableSession(value: number) {
  const pending: (() => void)[] = [];
  let disposed = false;
  const session: InferenceSession = {
    run: async () => {
      if (disposed) throw new Error('run on a disposed session');
      await new Promise<void>((resolve) => pending.push(resolve));
      if (disposed) throw new Error('disposed during a run');
      return Float32Array.of(value);
    },
    dispose: async () => {
      disposed = true;
    },
  };
  return { session, finishAll: () => pending.splice(0).forEach((f) => f()), isDisposed: () => disposed };
}

const model = (v: string) => ({ sha256: v.repeat(64), name: 'm', version: v, variant: 'fp32' });

describe('SessionHolder', () => {
  it('keeps the old session alive for requests in flight and disposes it after the last one', async () => {
    const holder = new SessionHolder();
    const v1 = controllableSession(1);
    const v2 = controllableSession(2);
    await holder.swap(v1.session, model('1'));
    const inFlight = holder.run(Float32Array.of(0));
    await holder.swap(v2.session, model('2'));
    expect(v1.isDisposed()).toBe(false);
    const next = holder.run(Float32Array.of(0));
    v2.finishAll();
    v1.finishAll();
    expect(Array.from((await inFlight).output)).toEqual([1]);
    expect(Array.from((await next).output)).toEqual([2]);
    expect(v1.isDisposed()).toBe(true);
    expect(v2.isDisposed()).toBe(false);
  });

  it('disposes an idle previous session at once', async () => {
    const holder = new SessionHolder();
    const v1 = controllableSession(1);
    await holder.swap(v1.session, model('1'));
    await holder.swap(controllableSession(2).session, model('2'));
    expect(v1.isDisposed()).toBe(true);
  });

  it('refuses to run with no model', async () => {
    await expect(new SessionHolder().run(Float32Array.of(0))).rejects.toBeInstanceOf(NoModelLoadedError);
  });

  it('start() hands back the engine\'s own promise; a retired session is disposed at its last run\'s finish, once', async () => {
    const holder = new SessionHolder();
    const output = Promise.resolve(Float32Array.of(7));
    let disposals = 0;
    await holder.swap({ run: () => output, dispose: async () => void disposals++ }, model('1'));
    const first = holder.start(Float32Array.of(0));
    const second = holder.start(Float32Array.of(0));
    expect(first.output).toBe(output);
    expect(first.model.version).toBe('1');
    await holder.swap(controllableSession(2).session, model('2'));
    expect(first.finish()).toBeUndefined(); // the second run still holds the retired session
    expect(first.finish()).toBeUndefined(); // a second finish does not drop another reference
    expect(disposals).toBe(0);
    await second.finish();
    expect(disposals).toBe(1);
    expect(() => new SessionHolder().start(Float32Array.of(0))).toThrow(NoModelLoadedError);
  });
});
