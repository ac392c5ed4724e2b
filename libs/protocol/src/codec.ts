import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { ProtocolError, type ParseResult } from './errors.js';
import {
  ackMessage,
  artifactRequestMessage,
  attestationNonceMessage,
  desiredStateMessage,
  errorEventMessage,
  heartbeatMessage,
  MAX_PAYLOAD_BYTES,
  presenceMessage,
  resultsMessage,
  resultsRequestMessage,
  SCHEMA_VERSION,
  statusMessage,
  trustRootMessage,
} from './messages.js';
import { shadowReportMessage } from './shadow.js';
import { isCertainlyHeartbeat } from './heartbeat-check.js';

/** Each JSON message kind: its schema and its payload bound. */
export const MESSAGE_KINDS = {
  desired: desiredStateMessage,
  'artifact-requests': artifactRequestMessage,
  status: statusMessage,
  heartbeat: heartbeatMessage,
  presence: presenceMessage,
  results: resultsMessage,
  errors: errorEventMessage,
  acks: ackMessage,
  'trust-root': trustRootMessage,
  'attestation-nonce': attestationNonceMessage,
  'results-requests': resultsRequestMessage,
  shadow: shadowReportMessage,
} as const;
export type MessageKind = keyof typeof MESSAGE_KINDS;
export type MessageOf<K extends MessageKind> = z.infer<(typeof MESSAGE_KINDS)[K]>;

/** Parses a payload into a typed message, or says exactly why it is not one. Never throws. */
export function parseMessage<K extends MessageKind>(kind: K, payload: Buffer | string): ParseResult<MessageOf<K>> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_PAYLOAD_BYTES[kind]) {
    return fail('too-large', `${kind} payload of ${size} bytes exceeds ${MAX_PAYLOAD_BYTES[kind]}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString());
  } catch (cause) {
    return fail('malformed-json', `${kind} payload is not JSON`, cause);
  }
  const version = (json as { v?: unknown } | null)?.v;
  if (typeof json === 'object' && json !== null && version !== SCHEMA_VERSION) {
    return fail('unsupported-version', `${kind} schema version ${String(version)} is not ${SCHEMA_VERSION}`);
  }
  // Heartbeats are most of the traffic: a hand-written check takes the valid ones; anything else, zod.
  if (kind === 'heartbeat' && isCertainlyHeartbeat(json, SCHEMA_VERSION)) return { ok: true, value: json as MessageOf<K> };
  const parsed = MESSAGE_KINDS[kind].safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return fail('schema', `invalid ${kind}: ${where}`, parsed.error);
  }
  return { ok: true, value: parsed.data as MessageOf<K> };
}

function fail<T>(reason: ProtocolError['reason'], message: string, cause?: unknown): ParseResult<T> {
  return { ok: false, error: new ProtocolError(reason, message, cause === undefined ? undefined : { cause }) };
}

/** Fills the common fields; the caller gives the rest. */
export function envelopeFields(now: Date = new Date()): { v: typeof SCHEMA_VERSION; id: string; ts: string } {
  return { v: SCHEMA_VERSION, id: randomUUID(), ts: now.toISOString() };
}

/** Serialises a message after checking it against its own schema: we never publish what we would refuse. */
export function encodeMessage<K extends MessageKind>(kind: K, message: MessageOf<K>): Buffer {
  const checked = MESSAGE_KINDS[kind].parse(message);
  return Buffer.from(JSON.stringify(checked));
}
