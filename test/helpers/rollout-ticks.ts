import { expect } from '@jest/globals';
import { RolloutEngine } from '../../apps/control-plane/src/rollouts/rollout-engine.js';
import { waitFor } from './agent-process.js';
import type { TestApp } from './test-app.js';

/**
 * The rollout's tick chain has ended: a tick of its current sequence, run by hand, asks for no further
 * tick (a stopped rollout must not keep ticking on nodes that never answer).
 */
export async function expectTickChainEnded(t: TestApp, rolloutId: string): Promise<void> {
  const engine = t.app.get(RolloutEngine);
  const last = await waitFor(
    async () => {
      const [row] = (await t.db.query(`SELECT tick_seq AS seq FROM rollouts WHERE id = $1`, [rolloutId])) as { seq: number }[];
      return engine.tick(rolloutId, row?.seq ?? -1, 200);
    },
    (r) => r?.nextDelayMs === null,
    30_000,
    'a tick that schedules no other',
  );
  expect(last?.nextDelayMs).toBeNull();
}
