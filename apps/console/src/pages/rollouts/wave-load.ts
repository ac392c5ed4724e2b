import type { Schemas } from '#api-client';

type Plan = Schemas['RolloutPlanDto'];

/** What one wave of a planned rollout sends: its nodes, and per variant how many nodes and bytes. */
export interface WaveLoad {
  readonly wave: number;
  readonly nodes: number;
  readonly bytes: number;
  readonly variants: readonly { readonly modelVersionId: string; readonly nodes: number; readonly bytes: number }[];
}

/**
 * Bytes per wave from the plan: each planned node costs its variant's artifact (the same accounting as the
 * plan's `bytesToNodes`, which is the sum over all waves). Waves are 1-based here, as the console shows them.
 */
export function waveLoads(plan: Plan): WaveLoad[] {
  const artifactBytes = new Map(plan.variants.map((v) => [v.modelVersionId, v.artifactBytes]));
  const waves = plan.waveSizes.map(() => new Map<string, number>());
  for (const node of plan.nodes) {
    const wave = waves[node.wave];
    if (wave) wave.set(node.modelVersionId, (wave.get(node.modelVersionId) ?? 0) + 1);
  }
  return waves.map((counts, i) => {
    const variants = [...counts].map(([modelVersionId, nodes]) => ({ modelVersionId, nodes, bytes: nodes * (artifactBytes.get(modelVersionId) ?? 0) }));
    return { wave: i + 1, nodes: variants.reduce((n, v) => n + v.nodes, 0), bytes: variants.reduce((n, v) => n + v.bytes, 0), variants };
  });
}
