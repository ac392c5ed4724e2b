import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { keepJobScheduler } from './job-scheduler.js';

describe('keepJobScheduler', () => {
  it('upserts the scheduler at once and again after each reconnect, reporting a failed re-upsert', async () => {
    const connection = new EventEmitter();
    const errors: unknown[] = [];
    let upserts = 0;
    let fail = false;
    const upsert = async () => {
      upserts++;
      if (fail) throw new Error('Redis went away again');
    };
    await keepJobScheduler(connection, upsert, (error) => errors.push(error));
    expect(upserts).toBe(1);

    connection.emit('ready');
    await new Promise((r) => setImmediate(r));
    expect(upserts).toBe(2);

    fail = true;
    connection.emit('ready');
    await new Promise((r) => setImmediate(r));
    expect(upserts).toBe(3);
    expect(errors).toEqual([new Error('Redis went away again')]);
  });

  it('fails the boot when the first upsert fails', async () => {
    await expect(keepJobScheduler(new EventEmitter(), () => Promise.reject(new Error('no Redis')), () => undefined)).rejects.toThrow('no Redis');
  });
});
