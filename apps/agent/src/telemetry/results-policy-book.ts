import { type ResultsPolicy, SEND_ALL_RESULTS } from '#protocol';

export interface PolicyModel {
  readonly name: string;
  readonly version: string;
  readonly variant: string;
  readonly sha256: string;
}

/** Policies of the last few releases this node was told about: the serving one and what may swap in. */
const MAX_MODELS = 8;

const keyOf = (m: PolicyModel) => `${m.name}\u0000${m.version}\u0000${m.variant}\u0000${m.sha256}`;

/**
 * The results policy of each release, as the verified desired states that named it said. A release no
 * desired state named (yet) sends everything: the default an operator gets without a policy, and what
 * an agent older than the field does.
 */
export class ResultsPolicyBook {
  private readonly policies = new Map<string, ResultsPolicy>();
  /** The last lookup: the serving model is one object until a swap, so the per-request cost is a comparison. */
  private last?: { readonly model: PolicyModel; readonly policy: ResultsPolicy };

  adopt(model: PolicyModel, policy: ResultsPolicy | undefined): void {
    const key = keyOf(model);
    this.last = undefined;
    this.policies.delete(key); // re-inserted last: the map's order is the eviction order
    this.policies.set(key, policy ?? SEND_ALL_RESULTS);
    while (this.policies.size > MAX_MODELS) this.policies.delete(this.policies.keys().next().value as string);
  }

  policyFor(model: PolicyModel): ResultsPolicy {
    if (this.last?.model === model) return this.last.policy;
    const policy = this.policies.get(keyOf(model)) ?? SEND_ALL_RESULTS;
    this.last = { model, policy };
    return policy;
  }
}
