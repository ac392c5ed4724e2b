import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncodedRecords, encodeResultRecord, parseMessage } from '#protocol';
import { ResultsOutbox } from './results-outbox.js';

const model = { name: 'digits', version: '1.0.0', variant: 'onnx' };
const record = (seq: number) => encodeResultRecord({ seq, at: Date.now(), modelSha256: 'a'.repeat(64), model, topClass: 1, confidence: 0.5, latencyMs: 1 });
/** What the control plane would read from a published message (it must accept it). */
function parsed(message: Buffer): { id: string; seqs: number[] } {
  const result = parseMessage('results', message);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.error)}`);
  return { id: result.value.id, seqs: result.value.records.map((r) => r.seq) };
}

describe('ResultsOutbox', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-outbox-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps every batch until acknowledged, across a restart, and resends it', async () => {
    let connected = false;
    const sent: { id: string; seqs: number[] }[] = [];
    const publish = async (message: Buffer) => void sent.push(parsed(message));
    const outbox = new ResultsOutbox(join(dir, 'spool'), 100, publish, () => connected, 0);
    await outbox.send(EncodedRecords.from([record(1), record(2)]));
    await outbox.send(EncodedRecords.from([record(3)]));
    expect(sent).toEqual([]); // offline

    const restarted = new ResultsOutbox(join(dir, 'spool'), 100, publish, () => connected, 0);
    await restarted.open();
    expect(restarted.spooledRecords).toBe(3);
    connected = true;
    restarted.resend(true);
    await new Promise((r) => setImmediate(r));
    expect(sent.map((s) => s.seqs)).toEqual([[1, 2], [3]]);

    await restarted.acknowledge([sent[0]!.id]);
    expect(restarted.spooledRecords).toBe(1);
    restarted.resend(); // the unacknowledged batch goes again, with the same id
    await new Promise((r) => setImmediate(r));
    expect(sent.at(-1)).toEqual(sent[1]);

    const third = new ResultsOutbox(join(dir, 'spool'), 100, publish, () => connected, 0);
    await third.open();
    expect(third.spooledRecords).toBe(1);
  });

  it('keeps a batch whose publish throws (a message it cannot encode) without throwing out of send or resend', async () => {
    const outbox = new ResultsOutbox(join(dir, 'spool'), 100, () => {
      throw new Error('cannot encode results: too large');
    }, () => true, 0);
    await outbox.send(EncodedRecords.from([record(1)]));
    expect(() => outbox.resend(true)).not.toThrow();
    expect(outbox.spooledRecords).toBe(1);
  });

  it('keeps the spool right while it stays open: emptied when all is acknowledged, rewritten when some is, appended after both', async () => {
    const sent: string[] = [];
    const outbox = new ResultsOutbox(join(dir, 'spool'), 100, async (message) => void sent.push(parsed(message).id), () => true, 0);
    const reopened = async () => {
      const other = new ResultsOutbox(join(dir, 'spool'), 100, async () => undefined, () => false);
      await other.open();
      return other.spooledRecords;
    };
    await outbox.send(EncodedRecords.from([record(1)]));
    await outbox.send(EncodedRecords.from([record(2), record(3)]));
    await outbox.acknowledge([sent[0] as string]); // some acknowledged: the rest is rewritten
    expect(await reopened()).toBe(2);
    await outbox.send(EncodedRecords.from([record(4)])); // appended to the rewritten file, not the replaced one
    expect(await reopened()).toBe(3);
    await outbox.acknowledge(sent.slice(1)); // all acknowledged: emptied in place
    expect(await reopened()).toBe(0);
    await outbox.send(EncodedRecords.from([record(5)]));
    expect(await reopened()).toBe(1);
    await outbox.close();
  });

  it('drops the oldest records beyond the bound and counts them', async () => {
    const outbox = new ResultsOutbox(join(dir, 'spool'), 3, async () => undefined, () => false);
    await outbox.send(EncodedRecords.from([record(1), record(2)]));
    await outbox.send(EncodedRecords.from([record(3), record(4), record(5)]));
    expect(outbox.dropped).toBe(2);
    expect(outbox.spooledRecords).toBe(3);
  });

  it('skips spool lines it would not publish after a restart: torn, not a batch, or a record outside the contract', async () => {
    const sent: number[][] = [];
    const outbox = new ResultsOutbox(join(dir, 'spool'), 100, async () => undefined, () => false);
    await outbox.send(EncodedRecords.from([record(1)]));
    await outbox.close();
    const bad = JSON.stringify({ id: '00000000-0000-4000-8000-000000000000', records: [{ ...JSON.parse(record(2)), confidence: 7 }] });
    await appendFile(join(dir, 'spool'), `${bad}\n{"id":"x","records":[]}\n{"id":"torn`);
    const restarted = new ResultsOutbox(join(dir, 'spool'), 100, async (message) => void sent.push(parsed(message).seqs), () => true);
    await restarted.open();
    restarted.resend(true);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([[1]]);
  });

  it('spools the published message itself, and reads spool lines of the older {id, records} form', async () => {
    const published: Buffer[] = [];
    const outbox = new ResultsOutbox(join(dir, 'spool'), 100, async (message) => void published.push(Buffer.from(message)), () => true, 0);
    await outbox.send(EncodedRecords.from([record(1), record(2)]));
    await outbox.close();
    expect(published).toHaveLength(1);
    expect(await readFile(join(dir, 'spool'))).toEqual(Buffer.concat([published[0] as Buffer, Buffer.from('\n')]));
    const older = { id: '00000000-0000-4000-8000-000000000001', records: [JSON.parse(record(3)) as unknown] };
    await appendFile(join(dir, 'spool'), `${JSON.stringify(older)}\n`);
    const sent: { id: string; seqs: number[] }[] = [];
    const restarted = new ResultsOutbox(join(dir, 'spool'), 100, async (message) => void sent.push(parsed(message)), () => true, 0);
    await restarted.open();
    restarted.resend(true);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([{ id: parsed(published[0] as Buffer).id, seqs: [1, 2] }, { id: older.id, seqs: [3] }]);
  });

  it('starts a new line after a torn one: a batch spooled after a crash mid-append survives the next restart', async () => {
    const outbox = new ResultsOutbox(join(dir, 'spool'), 100, async () => undefined, () => false);
    await outbox.send(EncodedRecords.from([record(1)]));
    await outbox.close();
    await appendFile(join(dir, 'spool'), '{"v":1,"id":"00000000-0000-4000-8000-0000000000'); // the crash
    const restarted = new ResultsOutbox(join(dir, 'spool'), 100, async () => undefined, () => false);
    await restarted.open();
    expect(restarted.spooledRecords).toBe(1);
    await restarted.send(EncodedRecords.from([record(2)]));
    await restarted.close();
    const third = new ResultsOutbox(join(dir, 'spool'), 100, async () => undefined, () => false);
    await third.open();
    expect(third.spooledRecords).toBe(2);
  });
});
