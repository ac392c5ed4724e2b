import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAILPOINTS } from '../../apps/agent/src/update/failpoints.js';
import { AgentProcess, waitFor } from './agent-process.js';
import { denseSoftmaxModel } from './onnx-model.js';
import { createModel, deploy, uploadVersion } from './fleet.js';
import { createEnrollmentToken, type TestApp } from './test-app.js';

const INPUTS = 16;

export interface CrashCampaignResult {
  readonly runs: number;
  readonly phasesAtKill: Record<string, number>;
  /** Runs after which the agent did not serve exactly the previous or the new model. */
  readonly violations: string[];
  /** Updates the agent gave up on (its `update step failed` log lines): a kill must never make one fail. */
  readonly failedUpdates: string[];
  readonly finalVersion: string | undefined;
}

/**
 * Releases a new model version again and again to one real agent and kills it during each update:
 * even runs at the next named failpoint (the agent SIGKILLs itself there), odd runs with kill -9 at a
 * random instant. After every restart the agent must settle serving the previous or the new model, the
 * heartbeat stored in the control plane must name it, and an inference must come from it; and no update
 * may fail because of a kill (each step resumes).
 */
export async function runCrashCampaign(t: TestApp, runs: number, padBytes = 2 * 1024 * 1024): Promise<CrashCampaignResult> {
  const model = `crash-${Date.now().toString(36)}`;
  await createModel(t, model, INPUTS, 4);
  const { token } = await createEnrollmentToken(t);
  const agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1_000_000, seconds: 0.3 }, heartbeatSeconds: 0.2, stallSeconds: 1 });
  const versions = new Map<string, { id: string; version: string }>();

  const release = async (n: number) => {
    const m = denseSoftmaxModel(100 + n, INPUTS, 4, { padBytes });
    const golden = Float32Array.from({ length: INPUTS }, (_, i) => i / INPUTS);
    const selfTest = { input: Array.from(golden), expectedOutput: Array.from(m.reference(golden)), tolerance: 1e-4 };
    const version = await uploadVersion(t, model, { version: `1.0.${n}`, selfTest }, m.bytes);
    versions.set(version.sha256, { id: version.id, version: `1.0.${n}` });
    await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    return version.sha256;
  };

  const settled = async () => {
    const status = await waitFor(() => agent.status(), (s) => s.phase === 'idle' && s.model !== null, 30_000, 'agent settled');
    const served = status.model?.sha256 as string;
    await waitFor(
      async () => (await t.db.query('SELECT current_model_version_id AS id FROM nodes WHERE id = $1', [agent.nodeId])) as { id: string | null }[],
      (rows) => rows[0]?.id === versions.get(served)?.id,
      10_000,
      'heartbeat naming the served model',
    );
    return served;
  };

  const phasesAtKill: Record<string, number> = {};
  const violations: string[] = [];
  try {
    let served = await release(0).then(() => settled());
    for (let run = 1; run <= runs; run++) {
      const point = run % 2 === 0 ? FAILPOINTS[(run / 2 - 1) % FAILPOINTS.length] : undefined;
      if (point) {
        await agent.kill();
        await agent.restart([point]);
      }
      const next = await release(run);
      let key: string;
      if (point) {
        await agent.exited().catch((error: unknown) => {
          throw new Error(`run ${run}: the agent did not reach failpoint ${point}; its last log lines:\n${agent.logs.slice(-30).join('\n')}`, { cause: error });
        });
        key = point;
      } else {
        // Kill within 400 ms of the agent starting the update (before, most random kills landed on an agent
        // still idle, waiting for the desired state): most land in download or verify, some after a quick
        // update has finished; `phasesAtKill` says where each landed.
        const record = () => readFile(join(agent.stateDir, 'state', 'update.json'), 'utf8').then((text) => JSON.parse(text) as { phase?: string }, () => ({ phase: undefined }));
        await waitFor(record, (r) => r.phase !== undefined && r.phase !== 'idle', 10_000, `run ${run}: the agent starting the update`).catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.random() * 400));
        const atKill = await record();
        await agent.kill();
        key = `random:${atKill.phase ?? 'none'}`;
      }
      phasesAtKill[key] = (phasesAtKill[key] ?? 0) + 1;
      await agent.restart(); // it re-verifies the active slot (digest and signatures) before serving
      const now = await settled();
      const answer = await agent.infer(Array.from({ length: INPUTS }, () => 0.5));
      const answeredBy = answer.status === 200 ? ((await answer.json()) as { model: { sha256: string } }).model.sha256 : `HTTP ${answer.status}`;
      if (![served, next].includes(now) || answeredBy !== now) violations.push(`run ${run} (${key}): serving ${now}, answered by ${answeredBy}`);
      served = now;
    }
    const failedUpdates = agent.logs.filter((line) => line.includes('"msg":"update step failed"'));
    return { runs, phasesAtKill, violations, failedUpdates, finalVersion: versions.get(served)?.version };
  } finally {
    await agent.remove();
  }
}
