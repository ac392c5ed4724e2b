import { Cron } from 'croner';
import { z } from 'zod';
import { ValidationError } from '#common';
import { parseLabelSelector } from '../nodes/label-selector.js';

const seconds = (max: number) => z.number().min(0).max(max);
const DAY = 86_400;

const cronExpression = z.string().refine(
  (pattern) => {
    try {
      new Cron(pattern, { paused: true });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a cron expression' },
);

const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not an IANA time zone' },
);

const selector = z.string().max(2000).refine(
  (value) => {
    try {
      parseLabelSelector(value);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a label selector' },
);

/**
 * How a rollout proceeds. Every field has a safe default, so `{}` is a single wave to every target with
 * a 15-minute node timeout and two retries.
 */
export const strategySchema = z.strictObject({
  /** Cumulative percentages of the targets (e.g. [1, 10, 50, 100]) or an exponential ramp of node counts. */
  waves: z
    .union([
      z.strictObject({
        percentages: z
          .array(z.number().gt(0).max(100))
          .min(1)
          .max(50)
          .refine((p) => p.every((v, i) => i === 0 || v > (p[i - 1] as number)), { message: 'must increase' }),
      }),
      z.strictObject({ exponential: z.strictObject({ first: z.number().int().min(1), factor: z.number().min(1.1).max(100) }) }),
    ])
    .default({ percentages: [100] }),
  /** Dispatches per rolling minute across the rollout (AWS IoT Jobs' maximumPerMinute). */
  maxNodesPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  /** Time between a wave passing and the next one starting; model-health gates are checked during it. */
  bakeSeconds: seconds(30 * DAY).default(0),
  /** Percentage of a wave's nodes that must succeed for the rollout to move on. */
  successThreshold: z.number().min(0).max(100).default(100),
  /** Halt when this many nodes (or this percentage of those finished) failed, once `minExecuted` finished. */
  failureThreshold: z
    .strictObject({ count: z.number().int().min(1).optional(), percent: z.number().gt(0).max(100).optional(), minExecuted: z.number().int().min(1).default(1) })
    .refine((t) => t.count !== undefined || t.percent !== undefined, { message: 'give count or percent' })
    .optional(),
  /** A node that has not committed this long after dispatch timed out (then it is retried or failed). */
  nodeTimeoutSeconds: z.number().min(0.5).max(7 * DAY).default(900),
  /**
   * Retries after a timeout — and, with `onFailure`, after a node reports a failure — with exponential
   * backoff (backoffSeconds × 2^(attempt-1)), at most `max` times; then the node fails for good.
   */
  retries: z
    .strictObject({ max: z.number().int().min(0).max(10).default(2), backoffSeconds: seconds(DAY).default(60), onFailure: z.boolean().default(false) })
    .default({ max: 2, backoffSeconds: 60, onFailure: false }),
  /** Nodes are dispatched only while the window is open (it opens at each cron time, for durationMinutes). */
  maintenanceWindow: z.strictObject({ cron: cronExpression, durationMinutes: z.number().int().min(1).max(7 * 1440), timezone: timezone.default('UTC') }).optional(),
  /** Nodes that match the selector later (e.g. newly enrolled) join the rollout while it runs. */
  continuous: z.boolean().default(false),
  /** The rollout waits for POST /approve before its first wave. */
  requireApproval: z.boolean().default(false),
  /** Canary (nodes on the new version) vs control (targets still on the old one), from heartbeats and results. */
  healthGates: z
    .strictObject({
      windowSeconds: z.number().min(1).max(DAY).default(300),
      /** Inferences per side needed before a gate judges; fewer means the gate waits (during bake). */
      minSamples: z.number().int().min(1).default(20),
      maxLatencyP99Ratio: z.number().gt(1).optional(),
      maxErrorRateIncrease: z.number().min(0).max(1).optional(),
      maxConfidenceDrop: z.number().min(0).max(1).optional(),
      /** Accuracy from ground truth (POST /v1/feedback): labelled results per side before the gate judges (default 20). */
      minLabelledSamples: z.number().int().min(1).max(1_000_000).optional(),
      /** Halt when canary accuracy is more than this below control accuracy (0–1). */
      maxAccuracyDrop: z.number().min(0).max(1).optional(),
      /** Halt when the canary nodes' mean drift score (PSI vs the manifest's reference statistics) exceeds this. */
      maxDrift: z.number().gt(0).max(100).optional(),
    })
    .optional(),
  /** On a halt, return every node the rollout reached to the version it ran before. */
  rollbackOnHalt: z.boolean().default(false),
  /**
   * Shadow evaluation: each wave's nodes self-test the new version, then run it beside the serving model
   * on `sampleRate` of live requests; the wave activates only once its figures pass (shadow-gate.ts).
   */
  shadow: z
    .strictObject({
      /**
       * Share of answered requests the candidate also runs on. 0.05 by default: serving p99 with shadow on
       * / off 0.96–1.17× per phase in seven runs of bench/shadow-cost.ts (median 1.07×; docs/rollouts.md),
       * the candidate's thread yielding the CPU to serving (SCHED_IDLE). Higher: the wave's `minSamples`
       * come sooner (at 0.05, 100 samples take about 2,000 requests), at more CPU per request.
       */
      sampleRate: z.number().gt(0).max(1).default(0.05),
      /** Shadow samples the wave needs in all before its figures are judged; fewer: it waits. */
      minSamples: z.number().int().min(1).max(1_000_000).default(100),
      /** Share of samples where the candidate's top class must be the serving model's. */
      minAgreement: z.number().min(0).max(1).default(0.95),
      /** Mean Jensen–Shannon divergence (bits, 0..1) of the two output distributions, at most. */
      maxDivergence: z.number().min(0).max(1).optional(),
      /** Candidate latency / serving latency on the same requests, at most. */
      maxLatencyRatio: z.number().gt(0).max(1000).optional(),
      /** Candidate errors (throws, non-finite or misshapen outputs) tolerated in the wave. */
      maxErrors: z.number().int().min(0).max(1_000_000).default(0),
      /** The wave shadows at least this long (from its first node's start) before it is judged. */
      durationSeconds: seconds(DAY).default(0),
    })
    .optional(),
})
  // A node shadows while dispatched, so a shadow run as long as the node timeout times every node out.
  .superRefine((s, ctx) => {
    if (s.shadow && s.shadow.durationSeconds >= s.nodeTimeoutSeconds) {
      const message = `shadow.durationSeconds (${s.shadow.durationSeconds}) must be below nodeTimeoutSeconds (${s.nodeTimeoutSeconds})`;
      ctx.addIssue({ code: 'custom', path: ['shadow', 'durationSeconds'], message });
      ctx.addIssue({ code: 'custom', path: ['nodeTimeoutSeconds'], message });
    }
  });

export type RolloutStrategy = z.infer<typeof strategySchema>;
export type HealthGates = NonNullable<RolloutStrategy['healthGates']>;
export type ShadowStrategy = NonNullable<RolloutStrategy['shadow']>;

/** Which version a node gets: the first rule whose `match` accepts it (no `match` accepts every node). */
export const variantRuleSchema = z.strictObject({
  modelVersionId: z.uuid(),
  match: z.strictObject({ selector: selector.optional(), maxRamMb: z.number().int().min(1).optional() }).optional(),
});
export type VariantRule = z.infer<typeof variantRuleSchema>;

export const variantRulesSchema = z.array(variantRuleSchema).min(1).max(20);

/** Parses a strategy, or throws a ValidationError naming each bad field (an RFC 7807 400). */
export function parseStrategy(input: unknown): RolloutStrategy {
  return parseOrThrow(strategySchema, input, 'strategy');
}

export function parseVariantRules(input: unknown): VariantRule[] {
  return parseOrThrow(variantRulesSchema, input, 'variants');
}

function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, field: string): T {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const violations = result.error.issues.map((issue) => ({ field: [field, ...issue.path].join('.'), message: issue.message }));
  throw new ValidationError(`invalid ${field}`, violations);
}
