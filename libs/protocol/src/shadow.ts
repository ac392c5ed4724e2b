import { z } from 'zod';
import { int32, real, timestamp } from './bounds.js';

/**
 * Shadow evaluation (docs/protocol.md#shadow-report): a node that has self-tested a candidate runs it
 * beside the serving model on a sample of live requests, off the request path, and reports how the two
 * compare. The control plane decides per wave, and says so inside the node's signed desired state.
 */

/**
 * What the control plane decided about a shadowed candidate, signed into the node's desired state:
 * `activate` lets the node go on to activation; `abandon` makes it fail the update (`shadow-failed`, or
 * `cancelled`: see SHADOW_ABANDON_CAUSES) and drop the candidate. Absent: keep shadowing. Only a signed document can carry it, so whoever can
 * publish on the broker can neither activate a candidate nor cancel one.
 */
export const SHADOW_DECISIONS = ['activate', 'abandon'] as const;
export type ShadowDecision = (typeof SHADOW_DECISIONS)[number];

/**
 * Why a node is told to `abandon`: `gate` — the shadow gate failed the candidate (the node fails the
 * update as `shadow-failed`); `stopped` — the rollout halted or was aborted for another cause, and the
 * candidate was never judged (`cancelled`); `timeout` — the rollout stopped waiting for this node
 * (`shadow-failed`). Absent (control planes before it): `gate`.
 */
export const SHADOW_ABANDON_CAUSES = ['gate', 'stopped', 'timeout'] as const;
export type ShadowAbandonCause = (typeof SHADOW_ABANDON_CAUSES)[number];

/** The `shadow` field of a signed desired state. Loose, like the document around it (signatures cover every key). */
export const shadowOrderSchema = z.looseObject({
  /** Fraction of served requests the candidate also runs on (at most one at a time; skipped when busy). */
  sampleRate: z.number().gt(0).max(1),
  decision: z.enum(SHADOW_DECISIONS).optional(),
  /** With `decision: "abandon"`: why (an agent that predates it ignores it, and reports `shadow-failed`). */
  abandonCause: z.enum(SHADOW_ABANDON_CAUSES).optional(),
});
export type ShadowOrder = z.infer<typeof shadowOrderSchema>;

/** The most shadow samples one report counts: an `integer` column, far beyond any wave's need. */
const samples = int32();

/**
 * node → CP, `nodes/{nodeId}/shadow`: the figures of the shadow run of one deployment so far (cumulative
 * since `startedAt`; a restarted agent starts a new run). Sent with heartbeats while the node shadows;
 * the control plane keeps the latest by `seq`, so a lost or repeated report costs nothing.
 */
export const shadowReportMessage = z
  .strictObject({
    v: z.literal(1),
    id: z.uuid(),
    ts: timestamp,
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    deploymentId: z.uuid(),
    /** The candidate's digest. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256'),
    startedAt: timestamp,
    /** Requests the candidate ran on and answered with a finite output of the active model's length. */
    samples,
    /** Of those, how many gave the active model's top class. */
    agreed: samples,
    /** Candidate runs that threw, gave a non-finite output or one of another length. */
    errors: samples,
    /** Sampled requests not shadowed because a shadow run was still in flight (the CPU bound). */
    skipped: samples,
    /** Mean Jensen–Shannon divergence (base 2, in [0, 1]) between the two output distributions. */
    meanDivergence: real(0, 1),
    /** Mean over samples of the mean absolute difference of the two output distributions. */
    meanAbsDiff: real(0, 1),
    /** Mean latency of the sampled requests on the active model, and of the candidate's runs on them. */
    activeLatencyMs: real(0),
    candidateLatencyMs: real(0),
  })
  .refine((m) => m.agreed <= m.samples, { message: 'more agreements than samples', path: ['agreed'] });
export type ShadowReportMessage = z.infer<typeof shadowReportMessage>;
