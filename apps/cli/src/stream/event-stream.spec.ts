import { describe, expect, it } from '@jest/globals';
import { readItems } from './event-stream.js';

/** A body that sends one heartbeat comment, then nothing: a quiet stream, as between a rollout's events. */
const quietBody = () =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(': heartbeat\n\n'));
    },
  });

describe('reading the event stream', () => {
  it('ends with the abort reason on its own, while a read is pending, without fetch noticing the abort', async () => {
    const controller = new AbortController();
    const reading = (async () => {
      for await (const item of readItems(quietBody(), () => undefined, controller.signal)) void item;
    })();
    const reason = new Error('watch timed out');
    setImmediate(() => controller.abort(reason));
    await expect(reading).rejects.toBe(reason);
  });

  it('does not start reading once aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('stopped');
    controller.abort(reason);
    const items = readItems(quietBody(), () => undefined, controller.signal);
    await expect(items.next()).rejects.toBe(reason);
  });
});
