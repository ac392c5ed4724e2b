import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { parseMessage } from './codec.js';
import { EncodedRecords, EncodedRecordsBuilder } from './encoded-records.js';
import { encodeResultRecord, encodeResultsLine, encodeResultsMessage } from './results-encoding.js';

const model = { name: 'digits', version: '1.0.0', variant: 'onnx' };
const record = (seq: number, inputRef?: string) => encodeResultRecord({ seq, at: 1_700_000_000_000, modelSha256: 'a'.repeat(64), model, inputRef, topClass: 1, confidence: 0.5, latencyMs: 1 });

describe('EncodedRecords', () => {
  it('keeps each record as it was encoded, multi-byte characters included', () => {
    const texts = [record(1, 'caméra-1/frame-ü'), record(2), record(3, '日本語')];
    const records = EncodedRecords.from(texts);
    expect(records.count).toBe(3);
    expect(records.texts()).toEqual(texts);
    expect(records.bytes.toString()).toBe(texts.join(','));
  });

  it('drops the first n records and keeps the rest whole', () => {
    const texts = [record(1, 'ü'), record(2), record(3)];
    const records = EncodedRecords.from(texts);
    expect(records.drop(0).texts()).toEqual(texts);
    expect(records.drop(1).texts()).toEqual(texts.slice(1));
    expect(records.drop(2).bytes.toString()).toBe(texts[2]);
    expect(records.drop(3).count).toBe(0);
    expect(records.drop(5).count).toBe(0);
  });

  it('hands out batches that a later batch of the same builder never overwrites, beyond its first buffer too', () => {
    const builder = new EncodedRecordsBuilder();
    const first = Array.from({ length: 200 }, (_, i) => record(i, `frame-${i}`)); // past the 16 KB the builder starts with
    for (const text of first) builder.add(text);
    const a = builder.finish();
    const second = [record(1000), record(1001)];
    for (const text of second) builder.add(text);
    const b = builder.finish();
    expect(a.texts()).toEqual(first);
    expect(b.texts()).toEqual(second);
    expect(builder.count).toBe(0);
  });

  it('makes the same results message as the texts do, and one the schema accepts', () => {
    const texts = [record(1, 'ü'), record(2)];
    const id = randomUUID();
    const now = new Date('2026-12-01T00:00:00Z');
    const message = encodeResultsMessage(id, EncodedRecords.from(texts), now);
    expect(message.equals(encodeResultsMessage(id, texts, now))).toBe(true);
    const parsed = parseMessage('results', message);
    expect(parsed.ok && parsed.value.records.map((r) => r.seq)).toEqual([1, 2]);
  });

  it('cuts texts into batches by count and by bytes, in order', () => {
    const texts = Array.from({ length: 7 }, (_, i) => record(i));
    expect(EncodedRecords.batches(texts, 3).map((b) => b.count)).toEqual([3, 3, 1]);
    const size = Buffer.byteLength(texts[0] as string);
    const byBytes = EncodedRecords.batches(texts, 100, 2 * size + 1); // closed once two records (and their comma) are in
    expect(byBytes.map((b) => b.count)).toEqual([2, 2, 2, 1]);
    expect(byBytes.flatMap((b) => b.texts())).toEqual(texts);
  });

  it('frames a builder batch in place once (no copy of its records), and copies after that, leaving the first buffer whole', () => {
    const builder = new EncodedRecordsBuilder();
    const texts = [record(1, 'ü'), record(2)];
    for (const text of texts) builder.add(text);
    const records = builder.finish();
    const id = randomUUID();
    const now = new Date('2026-12-01T00:00:00Z');
    const line = encodeResultsLine(id, records, now);
    expect(line.buffer).toBe(records.bytes.buffer); // framed around the records' own bytes
    expect(line.toString()).toBe(`${encodeResultsMessage(id, texts, now).toString()}\n`);
    const later = encodeResultsMessage(randomUUID(), records, new Date('2026-12-02T00:00:00Z'));
    expect(later.buffer).not.toBe(records.bytes.buffer);
    expect(line.toString()).toBe(`${encodeResultsMessage(id, texts, now).toString()}\n`); // unchanged by the later one
    expect(records.drop(1).texts()).toEqual(texts.slice(1));
  });

  it('gives a small batch a buffer of its own size, not the builder high-water buffer', () => {
    const builder = new EncodedRecordsBuilder();
    for (let i = 0; i < 1000; i++) builder.add(record(i, `frame-${i}`));
    const full = builder.finish();
    expect(full.bytes.buffer.byteLength).toBeGreaterThan(full.bytes.length); // handed over, with room
    builder.add(record(1000));
    const small = builder.finish();
    expect(small.bytes.buffer.byteLength).toBeLessThan(2 * small.bytes.length + 256);
    expect(small.texts()).toEqual([record(1000)]);
    const line = encodeResultsLine(randomUUID(), small);
    expect(line.buffer).toBe(small.bytes.buffer); // still framed in place
    expect(full.texts()).toHaveLength(1000);
  });

  it('hands a normal batch its buffer again after one batch closed far bigger', () => {
    const builder = new EncodedRecordsBuilder();
    for (let i = 0; i < 3000; i++) builder.add(record(i, `frame-${i}`));
    builder.finish(); // a batch at a byte bound, say
    const normal = () => {
      for (let i = 0; i < 500; i++) builder.add(record(i, `frame-${i}`));
      return builder.finish();
    };
    normal(); // copied: under half of the big buffer; the builder shrinks
    const next = normal();
    expect(next.bytes.buffer.byteLength).toBeGreaterThan(next.bytes.length + 128); // handed over, with room
    expect(next.bytes.buffer.byteLength).toBeLessThan(2 * next.bytes.length);
  });
});
