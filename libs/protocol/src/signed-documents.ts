import { z } from 'zod';
import { artifactEncodingSchema } from './artifact-encoding.js';
import { referenceStatsSchema } from './drift.js';
import { resultsPolicySchema } from './results-policy.js';
import { shadowOrderSchema } from './shadow.js';

/**
 * The signed documents the control plane sends to nodes (libs/trust signs and verifies them). The
 * objects are loose on purpose: a signature covers every key of `signed`, so parsing must keep keys a
 * newer signer added (a strict or stripping schema would change the bytes and break the signature).
 */
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const text = z.string().min(1).max(200);
const isoTime = z.string().min(1).max(40);

/** A tensor named in the manifest: the engines feed and read it by name and shape. */
export const tensorSpecSchema = z.looseObject({
  name: z.string().max(200).optional(),
  shape: z.array(z.number().int().min(-1)).max(16).optional(),
  dtype: z.string().max(20).optional(),
});

/** What a release key vouches for: one model artifact, how to run it and how to check it runs. */
export const modelManifestSchema = z.looseObject({
  type: z.literal('model-manifest'),
  name: text,
  version: text,
  /** Monotonic per model: a node refuses anything not above what it has installed (rollback). */
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  variant: text,
  format: text,
  engine: text,
  /** The decoded model: what a slot holds and an engine loads. */
  sha256,
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /**
   * How the artifact travels, when not as is (artifact-encoding.ts): the transferred bytes' digest and
   * size. Agents older than the field keep it (the schema is loose) and refuse the desired state, whose
   * `artifact` layout then names these bytes, not `sha256` (docs/protocol.md#artifact-encoding).
   */
  encoding: artifactEncodingSchema.optional(),
  inputSpec: tensorSpecSchema,
  outputSpec: tensorSpecSchema,
  preprocessing: z.record(z.string(), z.unknown()),
  labels: z.array(z.string()),
  selfTest: z.looseObject({ input: z.array(z.number()), expectedOutput: z.array(z.number()), tolerance: z.number().min(0) }),
  created: isoTime,
  expires: isoTime,
  /** Training-time statistics the node measures drift against (drift.ts); absent: the node reports no drift. */
  referenceStats: referenceStatsSchema.optional(),
});

const signatures = z.array(z.strictObject({ keyId: sha256, sig: z.string().min(1).max(200) })).min(1).max(16).readonly();

/** A signed document, TUF style: the payload and detached signatures over its canonical bytes. */
export const envelopeSchema = <T extends z.ZodType>(body: T) => z.strictObject({ signed: body, signatures });

export const manifestEnvelopeSchema = envelopeSchema(modelManifestSchema);

/** The command to one node: run this manifest for this deployment, until it expires. */
export const desiredStateSchema = z.looseObject({
  type: z.literal('desired-state'),
  nodeId: text,
  deploymentId: text,
  manifest: manifestEnvelopeSchema,
  issued: isoTime,
  expires: isoTime,
  /** Activate only while this recurring window is open (a rollout's maintenance window). */
  activationWindow: z.strictObject({ cron: z.string().min(1).max(200), durationMinutes: z.number().positive(), timezone: z.string().min(1).max(100) }).optional(),
  /**
   * What of this model's inference results the node sends (results-policy.ts); absent means `all`.
   * Inside the signed document, so nobody but the control plane's keys can turn a node's reporting off
   * or on; agents older than the field keep the key (the schema is loose) and send everything.
   */
  resultsPolicy: resultsPolicySchema.optional(),
  /**
   * Shadow evaluation (shadow.ts): after its self-test the node runs the candidate beside the serving model
   * and activates it only once a newer signed copy of this document says `decision: "activate"`.
   */
  shadow: shadowOrderSchema.optional(),
});

export const desiredStateEnvelopeSchema = envelopeSchema(desiredStateSchema);

const keyId = sha256;
const role = z.looseObject({ keyIds: z.array(keyId).min(1).max(16).readonly(), threshold: z.number().int().min(1).max(16) });

/**
 * The root of trust (libs/trust/root.ts): which keys may sign roots and releases, how many of each must
 * sign, and which keys are revoked. Published to nodes, which walk from the root they pin one version
 * at a time.
 */
export const rootDocumentSchema = z.looseObject({
  type: z.literal('root'),
  /** Bounded to what a trust topic level carries (`trust/root/{version}`). */
  version: z.number().int().min(1).max(999_999_999),
  expires: isoTime,
  keys: z.record(keyId, z.string().min(1).max(200)),
  /** `director` (optional): signs desired states, so `release` (manifests) can be held by publishers alone. */
  roles: z.looseObject({ root: role, release: role, director: role.optional() }),
  revokedKeyIds: z.array(keyId).max(1000).readonly(),
});

export const rootEnvelopeSchema = envelopeSchema(rootDocumentSchema);

export type TensorSpec = z.infer<typeof tensorSpecSchema>;
export type ModelManifestBody = z.infer<typeof modelManifestSchema>;
export type DesiredStateBody = z.infer<typeof desiredStateSchema>;
export type RootDocumentBody = z.infer<typeof rootDocumentSchema>;
export type SignedEnvelope<T> = { readonly signed: T; readonly signatures: readonly { readonly keyId: string; readonly sig: string }[] };
