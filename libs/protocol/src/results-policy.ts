import { z } from 'zod';

/**
 * What leaves a node of a model's inference results (issue 12). `all`: every result (the default, and
 * what a desired state without a policy means). `sample`: the results whose `inputRef` hashes below
 * `rate` (deterministic, so the control plane can tell which results a node sent without asking it).
 * `aggregates`: no individual result; the heartbeat's counts and latency histogram flow whatever the
 * policy. Results not sent are kept on the node for a bounded time and sent on request (`results-requests`).
 */
export const RESULTS_POLICY_MODES = ['all', 'sample', 'aggregates'] as const;
export type ResultsPolicyMode = (typeof RESULTS_POLICY_MODES)[number];

/**
 * `rate` only with `sample`, in (0, 1]; refined so a policy is one of exactly three shapes. Loose, as
 * every part of a signed document is (signed-documents.ts): a key a newer signer adds must survive parsing.
 */
export const resultsPolicySchema = z
  .looseObject({
    mode: z.enum(RESULTS_POLICY_MODES),
    rate: z.number().gt(0).max(1).optional(),
  })
  .refine((p) => (p.mode === 'sample') === (p.rate !== undefined), { message: 'rate is required with mode sample and allowed only with it', path: ['rate'] });

/** The policy as stored and signed: the two fields alone (a type alias, so it fits the signed document's loose body). */
export type ResultsPolicy = { readonly mode: ResultsPolicyMode; readonly rate?: number };

export const SEND_ALL_RESULTS: ResultsPolicy = { mode: 'all' };

/**
 * A number in [0, 1) from the key: FNV-1a over UTF-16 code units, then murmur3's finaliser so that keys
 * differing in their last character (`img-1`, `img-2`) spread over the whole range. Pure JavaScript:
 * the agent, the control plane and the tests compute the same value.
 */
export function sampleFraction(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/**
 * Whether a result leaves the node now under `policy`. The sample key is the result's `inputRef`; a
 * result without one is keyed by its node-scoped `seq` (still deterministic, but no request can name it).
 */
export function sendsResult(policy: ResultsPolicy, inputRef: string | undefined, seq: number): boolean {
  if (policy.mode === 'all') return true;
  if (policy.mode === 'aggregates') return false;
  return sampleFraction(inputRef ?? `seq:${seq}`) < (policy.rate ?? 1);
}
