import { describe, expect, it } from '@jest/globals';
import { type DesiredState, generateSigningKey, type ModelManifest, signManifest, TrustError } from '#trust';
import { testManifest, testVerifiedDesired } from '../../../../test/helpers/desired-state.js';
import type { SlotContent } from '../state/slots.js';
import type { VerifiedDesired } from './desired.js';
import { currentState, desiredTarget, readInstalled } from './plan-input.js';
import { servingKey } from './serving-key.js';
import { INITIAL_RECORD } from './update-record.js';

const manifest = testManifest();
const content: SlotContent = { sha256: manifest.sha256, deploymentId: 'd1', manifest: signManifest(manifest, [generateSigningKey()]) };
const active = { slot: 'a' as const, sha256: manifest.sha256 };
const serving = { name: 'm', version: '1.0.0', variant: 'fp32', sha256: manifest.sha256 };

/** A verified desired state for `m` (what DesiredIntake hands the updater), optionally asking for a shadow run. */
const target = (m: ModelManifest, shadow?: DesiredState['shadow']): VerifiedDesired => testVerifiedDesired({ deploymentId: 'd2', ...(shadow ? { shadow } : {}) }, m);

describe('the planner input', () => {
  it('reads the active slot, the held digests and the active content record', async () => {
    const slots = { active: async () => active, heldSha256s: async () => [manifest.sha256, 'b'.repeat(64)], content: async () => content };
    expect(await readInstalled(slots)).toEqual({ active, held: [manifest.sha256, 'b'.repeat(64)], activeContent: content });
  });

  it('leaves the content unknown when the active slot record no longer parses', async () => {
    const slots = { active: async () => active, heldSha256s: async () => [manifest.sha256], content: () => Promise.reject(new TrustError('malformed', 'bad record')) };
    expect((await readInstalled(slots)).activeContent).toBeUndefined();
  });

  it('knows the serving key only when the content record is the active bytes; the other held digest is the previous model', () => {
    const held = [manifest.sha256, 'b'.repeat(64)];
    expect(currentState(INITIAL_RECORD, { active, held, activeContent: content })).toEqual({
      phase: 'idle',
      deploymentId: undefined,
      installedSha256: manifest.sha256,
      installedServingKey: servingKey(manifest),
      previousSha256: 'b'.repeat(64),
    });
    const stale = { ...content, sha256: 'c'.repeat(64) };
    expect(currentState(INITIAL_RECORD, { active, held, activeContent: stale }).installedServingKey).toBeUndefined();
    expect(currentState(INITIAL_RECORD, { held: [] })).toEqual({ phase: 'idle', deploymentId: undefined, installedSha256: undefined, installedServingKey: undefined, previousSha256: undefined });
  });

  it('has no desired target without a verified desired state', () => {
    expect(desiredTarget(undefined, undefined, {})).toBeUndefined();
  });

  it('marks a target that asks for exactly the committed release that serves, and one that asks for a shadow run', () => {
    expect(desiredTarget(target(manifest), serving, { m: 1 })).toEqual({ deploymentId: 'd2', sha256: manifest.sha256, servingKey: servingKey(manifest), servesAlready: true, shadow: false });
    expect(desiredTarget(target(manifest), serving, { m: 0 })?.servesAlready).toBe(false);
    expect(desiredTarget(target(manifest), undefined, { m: 1 })?.servesAlready).toBe(false);
    expect(desiredTarget(target(manifest, { sampleRate: 0.5 }), serving, { m: 1 })?.shadow).toBe(true);
  });
});
