import type { components } from './schema.js';

type RolloutNode = Pick<components['schemas']['RolloutNodeDto'], 'phase' | 'shadow'>;

const SHADOW_PHASES = { shadowing: 'shadowing', activate: 'activating', abandon: 'abandoning' } as const;

/**
 * What a rollout's node is doing, for the CLI and the console alike: the deployment phase it last
 * reported, except in a shadow evaluation. There the node reports nothing of its own and stays
 * `self-tested` until a decision reaches it: `shadowing`, then `activating` or `abandoning` once one is
 * signed to it. Null before it reports.
 */
export function nodePhase(node: RolloutNode): string | null {
  return node.phase === 'self-tested' && node.shadow ? SHADOW_PHASES[node.shadow] : node.phase;
}
