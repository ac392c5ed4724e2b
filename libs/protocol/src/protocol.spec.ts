import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import {
  decodeChunk,
  encodeChunk,
  encodeMessage,
  encodeResultRecord,
  encodeResultsMessage,
  MAX_RESULTS_PER_BATCH,
  UnencodableMessageError,
  envelopeFields,
  type HeartbeatMessage,
  fleetTopics,
  InvalidFleetNamespaceError,
  parseMessage,
  ProtocolError,
  ResultRecordEncoder,
  toRanges,
} from './index.js';

const nodeId = randomUUID();
const sha = 'ab'.repeat(32);

const heartbeat = (): HeartbeatMessage => ({
  ...envelopeFields(),
  seq: 1,
  model: { name: 'digits', version: '1.0.0', variant: 'fp32', sha256: sha },
  uptimeS: 10,
  cpu: 0.2,
  memMb: 100,
  freeDiskMb: 1000,
  inferences: 5,
  errors: 0,
  latencyMs: { p50: 1.2, p99: 3.4 },
});

describe('topics', () => {
  const topics = fleetTopics('plant-7');

  it('builds and parses node uplink topics under the fleet namespace', () => {
    expect(topics.uplink(nodeId, 'heartbeat')).toBe(`ef/v1/plant-7/nodes/${nodeId}/heartbeat`);
    expect(topics.parseUplink(topics.uplink(nodeId, 'results'))).toEqual({ nodeId, kind: 'results' });
    expect(topics.sharedUplink('cp', 'status')).toBe('$share/cp/ef/v1/plant-7/nodes/+/status');
    expect(topics.desired(nodeId)).toBe(`ef/v1/plant-7/nodes/${nodeId}/desired`);
    expect(topics.allArtifactChunks).toBe('ef/v1/plant-7/artifacts/+/chunks/+');
  });

  it.each([
    `ef/v1/plant-7/nodes/not-a-uuid/heartbeat`,
    `ef/v1/plant-7/nodes/${nodeId}/desired`,
    `ef/v2/plant-7/nodes/${nodeId}/heartbeat`,
    `ef/v1/plant-7/nodes/${nodeId}/heartbeat/x`,
    `ef/v1/plant-8/nodes/${nodeId}/heartbeat`,
    `ef/v1/nodes/${nodeId}/heartbeat`,
  ])('refuses %s as an uplink topic of plant-7', (topic) => expect(topics.parseUplink(topic)).toBeNull());

  it('parses broadcast and repair chunk topics of its own fleet only', () => {
    expect(topics.parseChunk(topics.artifactChunk(sha, 7))).toEqual({ sha256: sha, index: 7 });
    expect(topics.parseChunk(topics.repairChunk(nodeId, sha, 3))).toEqual({ sha256: sha, index: 3 });
    expect(topics.parseChunk('ef/v1/plant-7/artifacts/xyz/chunks/1')).toBeNull();
    expect(topics.parseChunk(fleetTopics('plant-8').artifactChunk(sha, 7))).toBeNull();
    expect(topics.parseChunk(`ef/v1/artifacts/${sha}/chunks/7`)).toBeNull();
  });

  it.each(['', 'a/b', 'a+b', '#', 'a\u0000b', '$SYS', '.hidden', 'x'.repeat(65)])('refuses %j as a namespace', (namespace) => {
    expect(() => fleetTopics(namespace)).toThrow(InvalidFleetNamespaceError);
  });
});

describe('parseMessage', () => {
  it('accepts a valid heartbeat and round-trips it', () => {
    const hb = heartbeat();
    const parsed = parseMessage('heartbeat', encodeMessage('heartbeat', hb));
    expect(parsed).toEqual({ ok: true, value: hb });
  });

  it.each([
    ['malformed JSON', '{"v":1,', 'malformed-json'],
    ['a wrong schema version', JSON.stringify({ ...heartbeat(), v: 2 }), 'unsupported-version'],
    ['a wrong type', JSON.stringify({ ...heartbeat(), cpu: 'high' }), 'schema'],
    ['an unknown field', JSON.stringify({ ...heartbeat(), extra: 1 }), 'schema'],
    ['a missing field', JSON.stringify({ ...heartbeat(), seq: undefined }), 'schema'],
    ['an oversized payload', JSON.stringify({ ...heartbeat(), pad: 'x'.repeat(5000) }), 'too-large'],
    ['a non-object', '42', 'schema'],
  ])('refuses %s with a typed error', (_, payload, reason) => {
    const parsed = parseMessage('heartbeat', payload);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error).toBeInstanceOf(ProtocolError);
      expect(parsed.error.reason).toBe(reason);
    }
  });

  it('names the offending field', () => {
    const parsed = parseMessage('status', JSON.stringify({ ...envelopeFields(), seq: 1, deploymentId: randomUUID(), state: 'exploded' }));
    expect(!parsed.ok && parsed.error.message).toContain('state');
  });

  it('bounds results batches and validates each record', () => {
    const record = { seq: 1, ts: new Date().toISOString(), modelSha256: sha, topClass: 3, confidence: 0.9, latencyMs: 0.4 };
    expect(parseMessage('results', JSON.stringify({ ...envelopeFields(), records: [record] })).ok).toBe(true);
    expect(parseMessage('results', JSON.stringify({ ...envelopeFields(), records: [{ ...record, confidence: 1.5 }] })).ok).toBe(false);
    expect(parseMessage('results', JSON.stringify({ ...envelopeFields(), records: [] })).ok).toBe(false);
  });

  it('accepts result records with or without the served model version, within the columns bounds', () => {
    const record = { seq: 1, ts: new Date().toISOString(), modelSha256: sha, topClass: 3, confidence: 0.9, latencyMs: 0.4 };
    const served = { name: 'digits', version: '1.0.7', variant: 'fp32' };
    const results = (model: Record<string, string>) => JSON.stringify({ ...envelopeFields(), records: [{ ...record, model }] });
    expect(parseMessage('results', results(served)).ok).toBe(true);
    expect(parseMessage('results', results({ ...served, name: 'n'.repeat(101) })).ok).toBe(false);
    expect(parseMessage('results', results({ ...served, version: 'v'.repeat(65) })).ok).toBe(false);
    expect(parseMessage('results', results({ ...served, variant: 'x'.repeat(33) })).ok).toBe(false);
    expect(parseMessage('results', results({ name: 'digits', version: '1.0.7' })).ok).toBe(false);
  });

  describe('results builders (the agent publishes these without a schema pass)', () => {
    const fields = { seq: 7, at: Date.UTC(2026, 11, 1), modelSha256: sha, model: { name: 'digits', version: '1.0.7', variant: 'fp32' }, topClass: 3, confidence: 0.9, latencyMs: 0.4 };
    const parsedBatch = (records: string[]) => parseMessage('results', encodeResultsMessage(randomUUID(), records));

    it('build messages the schema accepts, with the same values a parse would give', () => {
      const parsed = parsedBatch([encodeResultRecord(fields), encodeResultRecord({ ...fields, seq: 8, inputRef: 'cam-1/"frame"', confidence: 1.2 })]);
      expect(parsed.ok && parsed.value.records).toEqual([
        { seq: 7, ts: '2026-12-01T00:00:00.000Z', modelSha256: sha, model: fields.model, topClass: 3, confidence: 0.9, latencyMs: 0.4 },
        { seq: 8, ts: '2026-12-01T00:00:00.000Z', modelSha256: sha, model: fields.model, inputRef: 'cam-1/"frame"', topClass: 3, confidence: 1, latencyMs: 0.4 },
      ]);
    });

    it.each([
      ['a negative seq', { seq: -1 }],
      ['a fractional topClass', { topClass: 1.5 }],
      ['a NaN latency', { latencyMs: Number.NaN }],
      ['a NaN confidence', { confidence: Number.NaN }],
      ['an uppercase sha256', { modelSha256: sha.toUpperCase() }],
      ['an empty model name', { model: { ...fields.model, name: '' } }],
      ['a model variant past 32 characters', { model: { ...fields.model, variant: 'x'.repeat(33) } }],
      ['an inputRef past 200 characters', { inputRef: 'r'.repeat(201) }],
    ])('refuse a record with %s (the schema would too)', (_name, change) => {
      expect(() => encodeResultRecord({ ...fields, ...change })).toThrow(UnencodableMessageError);
    });

    it('refuse an empty batch and one past the per-batch bound', () => {
      expect(() => encodeResultsMessage(randomUUID(), [])).toThrow(UnencodableMessageError);
      expect(() => encodeResultsMessage(randomUUID(), Array.from({ length: MAX_RESULTS_PER_BATCH + 1 }, () => encodeResultRecord(fields)))).toThrow(UnencodableMessageError);
    });
  });

  it('refuses inverted repair ranges', () => {
    const msg = { ...envelopeFields(), sha256: sha, missing: [[5, 2]] };
    expect(parseMessage('artifact-requests', JSON.stringify(msg)).ok).toBe(false);
  });

  it('refuses to encode an invalid message', () => {
    expect(() => encodeMessage('heartbeat', { ...heartbeat(), cpu: -1 })).toThrow();
  });
});

describe('chunks', () => {
  it('encode and decode with the header', () => {
    const data = Buffer.from('hello');
    expect(decodeChunk(encodeChunk({ index: 2, count: 3, data }))).toEqual({ index: 2, count: 3, data });
  });

  it('refuse a payload without the magic, or an index past the count', () => {
    expect(() => decodeChunk(Buffer.from('garbage-garbage'))).toThrow(ProtocolError);
    expect(() => decodeChunk(encodeChunk({ index: 3, count: 3, data: Buffer.alloc(1) }))).toThrow('not below the count');
  });

  it('compress missing indices into ranges', () => {
    expect(toRanges([5, 1, 2, 3, 9, 10, 2])).toEqual([[1, 3], [5, 5], [9, 10]]);
    expect(toRanges([])).toEqual([]);
  });
});

describe('ResultRecordEncoder (one encoder for a stream of records)', () => {
  const sha = 'c'.repeat(64);
  const model = { name: 'digits', version: '1.0.7', variant: 'fp32' };
  const fields = { seq: 7, at: Date.UTC(2026, 11, 1, 23, 59, 59, 998), modelSha256: sha, model, topClass: 3, confidence: 0.9, latencyMs: 0.4 };

  it('writes the text encodeResultRecord writes, record after record, across a model change', () => {
    const encoder = new ResultRecordEncoder();
    const other = { name: 'digits', version: '1.0.8', variant: 'int8' };
    const stream = [
      fields,
      { ...fields, seq: 8, at: fields.at + 1, inputRef: 'cam-1' },
      { ...fields, seq: 9, at: fields.at + 3 },
      { ...fields, seq: 10, at: fields.at + 3, model: other, modelSha256: 'd'.repeat(64) },
      { ...fields, seq: 11, at: fields.at - 120_000, model: other, modelSha256: 'd'.repeat(64) },
      { ...fields, seq: 12, at: fields.at + 5 },
    ];
    for (const r of stream) expect(encoder.encode(r)).toBe(encodeResultRecord(r));
  });

  it('still refuses a bad digest or model text once the model object has been seen', () => {
    const encoder = new ResultRecordEncoder();
    encoder.encode(fields);
    expect(() => encoder.encode({ ...fields, modelSha256: sha.toUpperCase() })).toThrow(UnencodableMessageError);
    expect(() => encoder.encode({ ...fields, model: { ...model, name: '' } })).toThrow(UnencodableMessageError);
    expect(() => encoder.encode({ ...fields, at: Date.UTC(10_000, 0, 1) })).toThrow(UnencodableMessageError);
    expect(() => encoder.encode({ ...fields, at: -62_135_596_800_001 })).toThrow(UnencodableMessageError); // the last millisecond of year 0000
  });
});
