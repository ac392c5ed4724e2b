import { Injectable } from '@nestjs/common';
import { NotFoundError, ValidationError } from '#common';
import { wireLayout } from '../deployments/wire-layout.js';
import type { Tx } from '../database/transactions.js';
import type { ModelVersion } from '../models/model-version.entity.js';
import { matchesSelector, parseLabelSelector } from '../nodes/label-selector.js';
import type { EdgeNode } from '../nodes/node.entity.js';
import { RolloutTargetingRepository } from './rollout-targeting.repository.js';
import type { VariantRule } from './strategy.js';
import type { Rollout } from './rollout.entity.js';
import { assignWaves, planWaves, waveOrder } from './waves.js';

export interface PlannedNode {
  readonly nodeId: string;
  readonly name: string;
  readonly wave: number;
  readonly modelVersionId: string;
}

export interface Plan {
  readonly nodes: PlannedNode[];
  readonly waveSizes: number[];
  /** Matching nodes no variant rule accepts (or whose engines cannot run the variant). */
  readonly unmatched: number;
  readonly variants: { modelVersionId: string; version: string; variant: string; engine: string; artifactBytes: number; nodes: number; bytesToNodes: number }[];
}

export interface RolloutTarget {
  readonly selector: string;
  readonly variants: readonly VariantRule[];
  readonly strategy: Pick<Rollout['strategy'], 'waves'>;
}

const MAX_TARGETS = 200_000;

/** Who a rollout reaches, which variant each node gets, and in which wave. */
@Injectable()
export class RolloutTargeting {
  constructor(private readonly repository: RolloutTargetingRepository) {}

  /** The versions a rollout names, checked: they exist, are signed, and belong to one model. */
  async versions(tx: Tx, variants: readonly VariantRule[]): Promise<Map<string, ModelVersion>> {
    const ids = [...new Set(variants.map((v) => v.modelVersionId))];
    const versions = await this.repository.versions(tx, ids);
    const missing = ids.filter((id) => !versions.some((v) => v.id === id));
    if (missing.length > 0) throw new NotFoundError('model version', missing.join(','));
    if (new Set(versions.map((v) => v.modelId)).size > 1) throw new ValidationError('all variants of a rollout must be versions of one model');
    const unsigned = versions.filter((v) => !('signed' in v.manifest));
    if (unsigned.length > 0) throw new ValidationError(`version ${unsigned[0]?.version} has no signed manifest; upload it again`);
    return new Map(versions.map((v) => [v.id, v]));
  }

  /** The plan for a rollout as it would start now; `rolloutId` seeds the wave order (any id for a dry run). */
  async plan(tx: Tx, target: RolloutTarget, rolloutId: string): Promise<Plan> {
    const versions = await this.versions(tx, target.variants);
    const nodes = await this.matchingNodes(tx, target.selector);
    const assigned = this.assignVariants(nodes, target.variants, versions);
    const sizes = planWaves(assigned.length, target.strategy.waves);
    const waves = assignWaves(
      waveOrder(
        rolloutId,
        assigned.map((a) => a.node.id),
      ),
      sizes,
    );
    const planned = assigned.map(({ node, versionId }) => ({ nodeId: node.id, name: node.name, wave: waves.get(node.id) ?? 0, modelVersionId: versionId }));
    const variants = [...versions.values()].map((v) => {
      const count = planned.filter((p) => p.modelVersionId === v.id).length;
      // What travels to each node: the encoded blob when the version has one (chunk size does not change it).
      const wireBytes = wireLayout(v, 1).size;
      return { modelVersionId: v.id, version: v.version, variant: v.variant, engine: v.engine, artifactBytes: v.artifact.sizeBytes, nodes: count, bytesToNodes: count * wireBytes };
    });
    return { nodes: planned.sort((a, b) => a.wave - b.wave || a.nodeId.localeCompare(b.nodeId)), waveSizes: sizes, unmatched: nodes.length - assigned.length, variants };
  }

  /** Plans and records the rollout's nodes (state pending) at its start. */
  async enrol(tx: Tx, rollout: Rollout): Promise<{ nodes: number; waveSizes: number[]; unmatched: number }> {
    const plan = await this.plan(tx, rollout, rollout.id);
    if (plan.nodes.length === 0) throw new ValidationError('no active node matches the rollout target');
    await this.insert(tx, rollout.id, plan.nodes);
    return { nodes: plan.nodes.length, waveSizes: plan.waveSizes, unmatched: plan.unmatched };
  }

  /**
   * Continuous targeting: nodes that match now but are not in the rollout (enrolled or relabelled since)
   * join the current wave, unless a newer unfinished rollout already has them.
   */
  async enrolNewcomers(tx: Tx, rollout: Rollout): Promise<number> {
    const versions = await this.versions(tx, rollout.variants);
    const candidates = await this.matchingNodes(tx, rollout.selector, rollout);
    const assigned = this.assignVariants(candidates, rollout.variants, versions);
    await this.insert(
      tx,
      rollout.id,
      assigned.map(({ node, versionId }) => ({ nodeId: node.id, wave: rollout.currentWave, modelVersionId: versionId })),
    );
    return assigned.length;
  }

  private insert(tx: Tx, rolloutId: string, nodes: readonly Pick<PlannedNode, 'nodeId' | 'wave' | 'modelVersionId'>[]): Promise<void> {
    return this.repository.insertNodes(tx, rolloutId, nodes);
  }

  /** Active nodes the selector matches; with `newcomersOf`, only those not yet in that rollout or a newer one. */
  private async matchingNodes(tx: Tx, selector: string, newcomersOf?: Rollout): Promise<EdgeNode[]> {
    const nodes = await this.repository.matchingNodes(tx, parseLabelSelector(selector), MAX_TARGETS + 1, newcomersOf);
    if (nodes.length > MAX_TARGETS) throw new ValidationError(`the selector matches more than ${MAX_TARGETS} nodes`);
    return nodes;
  }

  /** The first rule that accepts a node and whose variant's engine the node runs gives its version. */
  private assignVariants(nodes: readonly EdgeNode[], rules: readonly VariantRule[], versions: ReadonlyMap<string, ModelVersion>): { node: EdgeNode; versionId: string }[] {
    const parsed = rules.map((rule) => ({ rule, selector: rule.match?.selector !== undefined ? parseLabelSelector(rule.match.selector) : undefined }));
    return nodes.flatMap((node) => {
      const hit = parsed.find(({ rule, selector }) => {
        if (selector && !matchesSelector(node.labels, selector)) return false;
        if (rule.match?.maxRamMb !== undefined && !(node.hardware.ramMb <= rule.match.maxRamMb)) return false;
        const engine = versions.get(rule.modelVersionId)?.engine;
        return engine !== undefined && (node.hardware.engines ?? []).includes(engine);
      });
      return hit ? [{ node, versionId: hit.rule.modelVersionId }] : [];
    });
  }
}
