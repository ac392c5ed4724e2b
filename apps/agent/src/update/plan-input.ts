import type { ServingModel } from '#inference';
import type { ActivePointer, SlotContent, SlotStore } from '../state/slots.js';
import { asksForServingRelease, type VerifiedDesired } from './desired.js';
import type { CurrentState, DesiredTarget } from './planner.js';
import { servingKey } from './serving-key.js';
import type { UpdateRecord } from './update-record.js';

/** The models on disk as read once before each plan: the planner's view of the slots. */
export interface InstalledModels {
  readonly active?: ActivePointer;
  /** The digests of the models in the slots (active and previous). */
  readonly held: readonly string[];
  /** The active slot's content record; absent when it no longer parses. */
  readonly activeContent?: SlotContent;
}

export async function readInstalled(slots: Pick<SlotStore, 'active' | 'heldSha256s' | 'content'>): Promise<InstalledModels> {
  const active = await slots.active();
  const held = await slots.heldSha256s();
  // A slot record that no longer parses leaves the serving key unknown: no adopt, the whole pipeline.
  const activeContent = active && (await slots.content(active.slot).catch(() => undefined));
  return { active, held, activeContent };
}

/** The planner's `current`: the recorded update and what the slots hold. */
export function currentState(record: UpdateRecord, { active, held, activeContent }: InstalledModels): CurrentState {
  return {
    phase: record.phase,
    deploymentId: record.desired?.desired.signed.deploymentId,
    installedSha256: active?.sha256,
    installedServingKey: activeContent && activeContent.sha256 === active?.sha256 ? servingKey(activeContent.manifest.signed) : undefined,
    previousSha256: held.find((sha) => sha !== active?.sha256),
  };
}

/** The planner's `desired`: the verified target, and whether it asks for exactly the release that serves. */
export function desiredTarget(target: VerifiedDesired | undefined, serving: ServingModel | undefined, installed: UpdateRecord['installed']): DesiredTarget | undefined {
  if (!target) return undefined;
  return {
    deploymentId: target.state.deploymentId,
    sha256: target.manifest.sha256,
    servingKey: servingKey(target.manifest),
    servesAlready: asksForServingRelease(serving, installed, target.manifest),
    shadow: target.state.shadow !== undefined,
  };
}
