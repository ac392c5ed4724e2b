import { z } from 'zod';
import { int32, MAX_WINDOW_COUNT, PG_REAL_MAX, real, safeText, timestamp } from './bounds.js';
import { desiredStateEnvelopeSchema, rootEnvelopeSchema } from './signed-documents.js';
import { confidenceCount, confidenceHistogramSchema } from './confidence-histogram.js';
import { heartbeatDriftSchema } from './drift.js';
import { latencyHistogramSchema } from './latency-histogram.js';
import { DEPLOYMENT_STATES, FAILURE_REASONS } from './status.js';

/** Schema version carried by every JSON message as `v`. */
export const SCHEMA_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const uuid = z.uuid();
/**
 * Every field of every message is bounded to the column that stores it (see bounds.ts and the table in
 * docs/protocol.md): `bigint` columns take any safe integer, `integer` ones int32, `real` ones real(),
 * text has its column's length and no NUL.
 */
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Counted in one heartbeat window (bounds.ts). */
const windowCount = z.number().int().min(0).max(MAX_WINDOW_COUNT);
const shortText = safeText(200, 1);
/** base64url, as the control plane makes it (32 random bytes). */
const attestationNonce = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'a base64url nonce');

/** Fields every JSON message starts with: schema version, message id (de-duplication), sent-at time. */
const base = { v: z.literal(SCHEMA_VERSION), id: uuid, ts: timestamp };

export const MAX_CHUNK_BYTES = 128 * 1024;
/** The most chunks one artifact is cut into (a desired state's `chunkCount`). */
export const MAX_CHUNK_COUNT = 1_000_000;
/** An index into an artifact's chunks. */
const chunkIndex = z.number().int().min(0).max(MAX_CHUNK_COUNT - 1);

/** CP → node (retained): what to run. `desired` is a signed DesiredState (the agent verifies the signatures); `artifact` says how to fetch it. */
export const desiredStateMessage = z.strictObject({
  ...base,
  desired: desiredStateEnvelopeSchema,
  artifact: z.strictObject({
    sha256,
    size: count,
    chunkSize: z.number().int().min(1024).max(MAX_CHUNK_BYTES),
    chunkCount: z.number().int().min(0).max(MAX_CHUNK_COUNT),
  }),
});

/**
 * CP → every node (retained, one topic per root version): a signed root. Nodes walk from the root they
 * trust to the newest one, one version at a time; the signatures, not the topic, make it trusted.
 */
export const trustRootMessage = z.strictObject({
  ...base,
  root: rootEnvelopeSchema,
});

/** node → CP: chunks the node is missing, as inclusive index ranges of chunk indices. */
export const artifactRequestMessage = z.strictObject({
  ...base,
  sha256,
  missing: z
    .array(z.tuple([chunkIndex, chunkIndex]).refine(([a, b]) => a <= b, 'range start after end'))
    .min(1)
    .max(1024),
});

/** node → CP: deployment progress. */
export const statusMessage = z.strictObject({
  ...base,
  seq,
  deploymentId: uuid,
  state: z.enum(DEPLOYMENT_STATES),
  progress: real(0, 1).optional(),
  reason: z.enum(FAILURE_REASONS).optional(),
  detail: safeText(1000).optional(),
});

/** node → CP: periodic health, counters since the previous heartbeat. */
export const heartbeatMessage = z.strictObject({
  ...base,
  seq,
  model: z.strictObject({ name: shortText, version: shortText, variant: shortText, sha256 }).nullable(),
  uptimeS: count,
  cpu: real(0, 1024),
  /** `integer` columns: up to 2 PiB, beyond any edge device. */
  memMb: int32(),
  freeDiskMb: int32(),
  inferences: windowCount,
  errors: windowCount,
  latencyMs: z.strictObject({ p50: real(0, PG_REAL_MAX), p99: real(0, PG_REAL_MAX) }).nullable(),
  /**
   * The window's successful inferences' latencies in the shared log-spaced buckets (latency-histogram.ts),
   * of the model the heartbeat names. Absent from agents older than this field (their p50/p99 are still
   * read) and without inferences.
   */
  latencyHistogram: latencyHistogramSchema.optional(),
  /**
   * The window's successful inferences' top-class confidences (confidence-histogram.ts), of the model the
   * heartbeat names, whatever the results policy sends: under `sample` or `aggregates` the control plane
   * reads confidence from here, not from the few results it stores. Absent from older agents and without
   * inferences; it cannot hold more confidences than the heartbeat counts inferences.
   */
  confidenceHistogram: confidenceHistogramSchema.optional(),
  /**
   * The digest of the model bytes the engine loaded, signed with the node's enrolment key over the
   * control plane's current attestation nonce (libs/trust `attestationMessage`). Absent without a model,
   * before the node has heard a nonce, or from agents without a key pair.
   */
  attestation: z.strictObject({ nonce: attestationNonce, sha256, sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a base64 Ed25519 signature') }).optional(),
  /**
   * PSI of the node's recent inputs and top-class confidences against the serving manifest's
   * `referenceStats` (drift.ts), of the model the heartbeat names. Absent without reference statistics,
   * before the window holds enough inferences, and from agents older than the field.
   */
  drift: heartbeatDriftSchema.optional(),
}).refine((m) => m.confidenceHistogram === undefined || confidenceCount(m.confidenceHistogram) <= m.inferences, {
  message: 'more confidences than inferences',
  path: ['confidenceHistogram'],
});

/** node → CP (retained; the last will says offline). */
export const presenceMessage = z.strictObject({
  ...base,
  online: z.boolean(),
  agentVersion: safeText(50).optional(),
});

export const MAX_RESULTS_PER_BATCH = 1000;

/**
 * The model version a result was served with. Identical bytes can be several versions, so the digest
 * alone cannot say which; the bounds are those of `models.name`, `model_versions.version` and `.variant`.
 */
export const servedModel = z.strictObject({
  name: safeText(100, 1),
  version: safeText(64, 1),
  variant: safeText(32, 1),
});

/** node → CP: inference results in batches; `seq` is node-scoped and makes replays idempotent. */
export const resultsMessage = z.strictObject({
  ...base,
  records: z
    .array(
      z.strictObject({
        seq,
        ts: timestamp,
        modelSha256: sha256,
        /** Absent from agents older than this field: their results are stored unattributed to a version. */
        model: servedModel.optional(),
        inputRef: safeText(200).optional(),
        topClass: int32(0, 1_000_000),
        confidence: real(0, 1),
        latencyMs: real(0, PG_REAL_MAX),
        /** Stored as jsonb, which holds any finite number (JSON.parse turns 1e400 into Infinity, refused). */
        output: z.array(z.number()).max(1000).optional(),
      }),
    )
    .min(1)
    .max(MAX_RESULTS_PER_BATCH),
});

/** CP → node: ids of results messages now stored; the node removes them from its spool. */
export const ackMessage = z
  .strictObject({
    ...base,
    /** Result batches stored (the node may forget them). */
    results: z.array(uuid).min(1).max(10_000).optional(),
    /**
     * A status with this node-scoped seq is stored. The control plane sends one ack per stored status;
     * agents before exact acks read it as "every status up to here", current ones as this seq alone.
     */
    statusSeq: seq.optional(),
  })
  .refine((m) => m.results !== undefined || m.statusSeq !== undefined, { message: 'acknowledges nothing' });

/** The most results one request names, and the most a node sends back for one: one results batch. */
export const MAX_REQUESTED_RESULTS = MAX_RESULTS_PER_BATCH;

/**
 * CP → node: send the results kept on the node (not sent under its results policy) with these input
 * references, or served in [from, to]. The node answers through the normal results path (acknowledged,
 * stored once by `seq`), with at most `MAX_REQUESTED_RESULTS` records, the newest first when a time
 * range holds more.
 */
export const resultsRequestMessage = z
  .strictObject({
    ...base,
    inputRefs: z.array(safeText(200, 1)).min(1).max(MAX_REQUESTED_RESULTS).optional(),
    from: timestamp.optional(),
    to: timestamp.optional(),
  })
  .refine((m) => (m.inputRefs !== undefined) !== (m.from !== undefined && m.to !== undefined) && (m.from === undefined) === (m.to === undefined), {
    message: 'give inputRefs, or from and to',
  })
  .refine((m) => m.from === undefined || m.to === undefined || Date.parse(m.from) <= Date.parse(m.to), { message: 'from after to', path: ['to'] });

/** CP → every node (retained): the nonce attestation reports must sign; rotated by the control plane. */
export const attestationNonceMessage = z.strictObject({ ...base, nonce: attestationNonce });

/** CP → node: an error event answering an invalid message (the node learns why it was dropped). */
export const errorEventMessage = z.strictObject({
  ...base,
  code: safeText(50),
  detail: safeText(1000),
  topic: safeText(300),
  refId: uuid.optional(),
});

/**
 * The `code` of an error event answering a repair request that was refused, wholly or in part: the
 * artifact is not deployed to the node, the node asks too often, or it has had its share of repair bytes
 * for the deployment (docs/protocol.md).
 */
export const REPAIR_REFUSALS = ['not-assigned', 'repair-rate-limited', 'repair-cap-exceeded'] as const;
export type RepairRefusal = (typeof REPAIR_REFUSALS)[number];

export type DesiredStateMessage = z.infer<typeof desiredStateMessage>;
export type ArtifactRequestMessage = z.infer<typeof artifactRequestMessage>;
export type StatusMessage = z.infer<typeof statusMessage>;
export type HeartbeatMessage = z.infer<typeof heartbeatMessage>;
export type PresenceMessage = z.infer<typeof presenceMessage>;
export type ResultsMessage = z.infer<typeof resultsMessage>;
export type ErrorEventMessage = z.infer<typeof errorEventMessage>;
export type AckMessage = z.infer<typeof ackMessage>;
export type TrustRootMessage = z.infer<typeof trustRootMessage>;
export type AttestationNonceMessage = z.infer<typeof attestationNonceMessage>;
export type ResultsRequestMessage = z.infer<typeof resultsRequestMessage>;

/** Upper bounds on a payload, checked before JSON.parse so a huge message costs nothing. */
export const MAX_PAYLOAD_BYTES = {
  desired: 256 * 1024,
  'artifact-requests': 32 * 1024,
  status: 4 * 1024,
  heartbeat: 4 * 1024,
  presence: 1024,
  results: 1024 * 1024,
  errors: 4 * 1024,
  acks: 512 * 1024,
  'trust-root': 64 * 1024,
  'attestation-nonce': 1024,
  'results-requests': 256 * 1024,
  shadow: 2 * 1024,
} as const;
