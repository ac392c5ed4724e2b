import { z } from 'zod';
import { desiredStateEnvelopeSchema, rootEnvelopeSchema } from './signed-documents.js';
import { DEPLOYMENT_STATES, FAILURE_REASONS } from './status.js';

/** Schema version carried by every JSON message as `v`. */
export const SCHEMA_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const uuid = z.uuid();
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const shortText = z.string().min(1).max(200);

/** Fields every JSON message starts with: schema version, message id (de-duplication), sent-at time. */
const base = { v: z.literal(SCHEMA_VERSION), id: uuid, ts: z.iso.datetime({ offset: true }) };

export const MAX_CHUNK_BYTES = 128 * 1024;

/** CP → node (retained): what to run. `desired` is a signed DesiredState (the agent verifies the signatures); `artifact` says how to fetch it. */
export const desiredStateMessage = z.strictObject({
  ...base,
  desired: desiredStateEnvelopeSchema,
  artifact: z.strictObject({
    sha256,
    size: count,
    chunkSize: z.number().int().min(1024).max(MAX_CHUNK_BYTES),
    chunkCount: z.number().int().min(0).max(1_000_000),
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

/** node → CP: chunks the node is missing, as inclusive index ranges. No cap on the artifact's size. */
export const artifactRequestMessage = z.strictObject({
  ...base,
  sha256,
  missing: z
    .array(z.tuple([z.number().int().min(0), z.number().int().min(0)]).refine(([a, b]) => a <= b, 'range start after end'))
    .min(1)
    .max(1024),
});

/** node → CP: deployment progress. */
export const statusMessage = z.strictObject({
  ...base,
  seq,
  deploymentId: uuid,
  state: z.enum(DEPLOYMENT_STATES),
  progress: z.number().min(0).max(1).optional(),
  reason: z.enum(FAILURE_REASONS).optional(),
  detail: z.string().max(1000).optional(),
});

/** node → CP: periodic health, counters since the previous heartbeat. */
export const heartbeatMessage = z.strictObject({
  ...base,
  seq,
  model: z.strictObject({ name: shortText, version: shortText, variant: shortText, sha256 }).nullable(),
  uptimeS: count,
  cpu: z.number().min(0).max(1024),
  memMb: count,
  freeDiskMb: count,
  inferences: count,
  errors: count,
  latencyMs: z.strictObject({ p50: z.number().min(0), p99: z.number().min(0) }).nullable(),
});

/** node → CP (retained; the last will says offline). */
export const presenceMessage = z.strictObject({
  ...base,
  online: z.boolean(),
  agentVersion: z.string().max(50).optional(),
});

export const MAX_RESULTS_PER_BATCH = 1000;

/**
 * The model version a result was served with. Identical bytes can be several versions, so the digest
 * alone cannot say which; the bounds are those of `models.name`, `model_versions.version` and `.variant`.
 */
export const servedModel = z.strictObject({
  name: z.string().min(1).max(100),
  version: z.string().min(1).max(64),
  variant: z.string().min(1).max(32),
});

/** node → CP: inference results in batches; `seq` is node-scoped and makes replays idempotent. */
export const resultsMessage = z.strictObject({
  ...base,
  records: z
    .array(
      z.strictObject({
        seq,
        ts: z.iso.datetime({ offset: true }),
        modelSha256: sha256,
        /** Absent from agents older than this field: their results are stored unattributed to a version. */
        model: servedModel.optional(),
        inputRef: z.string().max(200).optional(),
        topClass: z.number().int().min(0).max(1_000_000),
        confidence: z.number().min(0).max(1),
        latencyMs: z.number().min(0),
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
    /** Every status up to this node-scoped seq is stored (the node stops re-sending its latest one). */
    statusSeq: seq.optional(),
  })
  .refine((m) => m.results !== undefined || m.statusSeq !== undefined, { message: 'acknowledges nothing' });

/** CP → node: an error event answering an invalid message (the node learns why it was dropped). */
export const errorEventMessage = z.strictObject({
  ...base,
  code: z.string().max(50),
  detail: z.string().max(1000),
  topic: z.string().max(300),
  refId: uuid.optional(),
});

export type DesiredStateMessage = z.infer<typeof desiredStateMessage>;
export type ArtifactRequestMessage = z.infer<typeof artifactRequestMessage>;
export type StatusMessage = z.infer<typeof statusMessage>;
export type HeartbeatMessage = z.infer<typeof heartbeatMessage>;
export type PresenceMessage = z.infer<typeof presenceMessage>;
export type ResultsMessage = z.infer<typeof resultsMessage>;
export type ErrorEventMessage = z.infer<typeof errorEventMessage>;
export type AckMessage = z.infer<typeof ackMessage>;
export type TrustRootMessage = z.infer<typeof trustRootMessage>;

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
} as const;
