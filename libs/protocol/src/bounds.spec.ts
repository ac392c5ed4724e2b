import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { fitsReal, PG_INTEGER_MAX, PG_REAL_MAX, toSafeText } from './bounds.js';
import { envelopeFields, type MessageKind, parseMessage } from './index.js';
import { encodeResultRecord, UnencodableMessageError } from './results-encoding.js';

/**
 * Every uplink field against the column that stores it: one value at the column's edge is accepted,
 * one past it is refused at parse (where the sender alone pays), never in the batch write.
 */
const sha = 'ab'.repeat(32);
const NUL = '\u0000';

const valid: Record<'heartbeat' | 'status' | 'presence' | 'results' | 'artifact-requests', () => Record<string, unknown>> = {
  heartbeat: () => ({
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
  }),
  status: () => ({ ...envelopeFields(), seq: 1, deploymentId: randomUUID(), state: 'failed', progress: 0.5, reason: 'hash-mismatch', detail: 'bad digest' }),
  presence: () => ({ ...envelopeFields(), online: true, agentVersion: '0.1.0' }),
  results: () => ({
    ...envelopeFields(),
    records: [
      { seq: 1, ts: new Date().toISOString(), modelSha256: sha, model: { name: 'digits', version: '1.0.0', variant: 'fp32' }, inputRef: 'frame-1', topClass: 3, confidence: 0.9, latencyMs: 0.5, output: [0.1, 0.9] },
    ],
  }),
  'artifact-requests': () => ({ ...envelopeFields(), sha256: sha, missing: [[0, 3]] }),
};

type Case = readonly [kind: keyof typeof valid, what: string, change: (m: Record<string, unknown>) => void];

const record = (m: Record<string, unknown>) => (m['records'] as Record<string, unknown>[])[0]!;
const model = (m: Record<string, unknown>) => m['model'] as Record<string, unknown>;

const refused: readonly Case[] = [
  ['heartbeat', 'memMb beyond integer', (m) => (m['memMb'] = PG_INTEGER_MAX + 1)],
  ['heartbeat', 'freeDiskMb beyond integer', (m) => (m['freeDiskMb'] = 2 ** 31)],
  ['heartbeat', 'a latency beyond real', (m) => (m['latencyMs'] = { p50: 1, p99: 1e39 })],
  ['heartbeat', 'a latency that underflows real', (m) => (m['latencyMs'] = { p50: 1e-50, p99: 1 })],
  ['heartbeat', 'cpu that underflows real', (m) => (m['cpu'] = 1e-50)],
  ['heartbeat', 'NUL in the model name', (m) => (model(m)['name'] = `digits${NUL}`)],
  ['heartbeat', 'NUL in the model variant', (m) => (model(m)['variant'] = NUL)],
  ['heartbeat', 'a model version longer than its column', (m) => (model(m)['version'] = 'x'.repeat(201))],
  ['heartbeat', 'year 0000', (m) => (m['ts'] = '0000-01-01T00:00:00Z')],
  ['heartbeat', 'seq beyond a safe integer', (m) => (m['seq'] = 2 ** 53)],
  ['heartbeat', 'inferences beyond one window (the rollups add them up)', (m) => (m['inferences'] = 2 ** 32)],
  ['heartbeat', 'a latency bucket count beyond one window', (m) => (m['latencyHistogram'] = { layout: 'log2q4-0.05ms', counts: [[3, 2 ** 32]] })],
  ['status', 'NUL in detail', (m) => (m['detail'] = `bad${NUL}digest`)],
  ['status', 'detail longer than 1000', (m) => (m['detail'] = 'x'.repeat(1001))],
  ['status', 'progress that underflows real', (m) => (m['progress'] = 1e-50)],
  ['presence', 'NUL in agentVersion', (m) => (m['agentVersion'] = `0.1${NUL}`)],
  ['presence', 'agentVersion longer than its column', (m) => (m['agentVersion'] = 'x'.repeat(51))],
  ['results', 'NUL in inputRef', (m) => (record(m)['inputRef'] = `frame${NUL}`)],
  ['results', 'NUL in the served model name', (m) => (record(m)['model'] = { name: NUL, version: '1.0.0', variant: 'fp32' })],
  ['results', 'confidence that underflows real', (m) => (record(m)['confidence'] = 1e-50)],
  ['results', 'latencyMs beyond real', (m) => (record(m)['latencyMs'] = 3.5e38)],
  ['results', 'topClass beyond its bound', (m) => (record(m)['topClass'] = 1_000_001)],
  ['results', 'a record time in year 0000', (m) => (record(m)['ts'] = '0000-06-01T00:00:00Z')],
  ['artifact-requests', 'a chunk index past any artifact', (m) => (m['missing'] = [[0, 1_000_000]])],
];

const accepted: readonly Case[] = [
  ['heartbeat', 'memMb at the integer maximum', (m) => (m['memMb'] = PG_INTEGER_MAX)],
  ['heartbeat', 'a latency at the real maximum', (m) => (m['latencyMs'] = { p50: 0, p99: PG_REAL_MAX })],
  ['heartbeat', 'a subnormal real', (m) => (m['cpu'] = 1e-45)],
  ['heartbeat', 'year 0001', (m) => (m['ts'] = '0001-01-01T00:00:00Z')],
  ['heartbeat', 'uptime beyond integer (a bigint column)', (m) => (m['uptimeS'] = 2 ** 40)],
  ['heartbeat', 'inferences at one window\'s bound', (m) => (m['inferences'] = 2 ** 32 - 1)],
  ['status', 'non-ASCII detail at its bound', (m) => (m['detail'] = 'é'.repeat(1000))],
  ['results', 'a huge number in output (jsonb holds any finite number)', (m) => (record(m)['output'] = [1e300])],
];

describe('uplink schemas are bounded to their columns', () => {
  it.each(Object.keys(valid) as (keyof typeof valid)[])('accept a valid %s', (kind) => {
    expect(parseMessage(kind as MessageKind, JSON.stringify(valid[kind]()))).toMatchObject({ ok: true });
  });

  it.each(refused)('%s: refuse %s', (kind, _what, change) => {
    const message = valid[kind]();
    change(message);
    const parsed = parseMessage(kind, JSON.stringify(message));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.reason).toBe('schema');
  });

  it.each(accepted)('%s: accept %s', (kind, _what, change) => {
    const message = valid[kind]();
    change(message);
    expect(parseMessage(kind, JSON.stringify(message))).toMatchObject({ ok: true });
  });

  it('refuses a number JSON turns into Infinity', () => {
    const text = JSON.stringify(valid.results()).replace('"output":[0.1,0.9]', '"output":[1e400]');
    expect(parseMessage('results', text)).toMatchObject({ ok: false });
  });

  it('names the NUL in the refusal, so the node learns why', () => {
    const message = valid.status();
    message['detail'] = NUL;
    const parsed = parseMessage('status', JSON.stringify(message));
    expect(!parsed.ok && parsed.error.message).toMatch(/detail: must not contain the NUL character/);
  });
});

describe('fitsReal', () => {
  it.each([
    [0, true],
    [1, true],
    [-1e-45, true],
    [PG_REAL_MAX, true],
    [1e-50, false],
    [-1e39, false],
    [Number.NaN, false],
    [Number.POSITIVE_INFINITY, false],
  ])('%p → %p', (value, fits) => expect(fitsReal(value)).toBe(fits));
});

describe('results builder keeps to the same bounds', () => {
  const fields = { seq: 1, at: Date.now(), modelSha256: sha, model: { name: 'digits', version: '1.0.0', variant: 'fp32' }, topClass: 1, confidence: 0.5, latencyMs: 1 };

  it('refuses NUL in inputRef and a latency beyond real', () => {
    expect(() => encodeResultRecord({ ...fields, inputRef: `a${NUL}` })).toThrow(UnencodableMessageError);
    expect(() => encodeResultRecord({ ...fields, latencyMs: 1e39 })).toThrow(UnencodableMessageError);
  });

  it('turns a confidence too small for real into 0, which the schema accepts', () => {
    const record = encodeResultRecord({ ...fields, confidence: 1e-50 });
    expect(record).toContain('"confidence":0,');
    const message = `{"v":1,"id":"${randomUUID()}","ts":"${new Date().toISOString()}","records":[${record}]}`;
    expect(parseMessage('results', message)).toMatchObject({ ok: true });
  });
});

describe('toSafeText', () => {
  it('makes free text fit a text field: NUL replaced, cut to the bound', () => {
    expect(toSafeText(`a${NUL}b`, 10)).toBe('a\uFFFDb');
    expect(toSafeText('x'.repeat(20), 5)).toBe('xxxxx');
    const message = { ...valid.status(), detail: toSafeText(`${NUL}`.repeat(2000), 1000) };
    expect(parseMessage('status', JSON.stringify(message))).toMatchObject({ ok: true });
  });
});
