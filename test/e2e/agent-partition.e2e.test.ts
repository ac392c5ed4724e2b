import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const SOAK_SECONDS = 4;

/**
 * A network partition of one agent, longer than its soak, in the middle of an update: the agent reaches
 * its broker through a proxy that starts carrying nothing either way (connections stay open, as in a real
 * partition, so the agent notices only by its own timeouts). It keeps serving local requests throughout,
 * finishes its soak and commits on its own, and once the partition heals the control plane converges:
 * the deployment is committed, the node reports the new version, and every request served offline is stored.
 */
describe('a network partition of one agent during its soak', () => {
  let broker: TestBroker;
  let proxy: TcpProxy;
  let t: TestApp;
  let agent: AgentProcess;

  beforeAll(async () => {
    broker = await startTestBroker();
    proxy = await TcpProxy.start(new URL(`http://127.0.0.1:${broker.port}`));
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20' });
    await createModel(t, 'partition', INPUTS, 4);
    const { token } = await createEnrollmentToken(t);
    agent = await AgentProcess.start({
      controlPlaneUrl: t.url,
      enrollmentToken: token,
      brokerUrl: `mqtt://127.0.0.1:${proxy.port}`,
      soak: { inferences: 3, seconds: SOAK_SECONDS },
      heartbeatSeconds: 1,
    });
  }, 120_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await proxy?.stop();
    await broker?.stop();
  });

  const infer = async (ref: string): Promise<number> => {
    const res = await fetch(`${agent.url}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: Array.from({ length: INPUTS }, (_, k) => k / INPUTS), inputRef: ref }),
    });
    await res.arrayBuffer();
    return res.status;
  };

  it('keeps serving, commits on its own, and converges with the control plane after the partition heals', async () => {
    const v1 = await uploadVersion(t, 'partition', { version: '1.0.0' }, denseSoftmaxModel(51, INPUTS).bytes);
    const v2 = await uploadVersion(t, 'partition', { version: '2.0.0' }, denseSoftmaxModel(52, INPUTS).bytes);
    let served = 0;
    let sent = 0;
    const refused: number[] = [];
    const request = async () => {
      const status = await infer(`req-${sent++}`);
      if (status === 200) served++;
      else refused.push(status);
    };
    // The soak needs inferences: each wait below sends one per probe.
    await deploy(t, v1.id, { nodeIds: [agent.nodeId] });
    await waitFor(async () => (await request(), agent.status()), (s) => s.model?.version === '1.0.0' && s.phase === 'idle', 60_000, 'v1 active');
    refused.length = 0; // 503 "no model" until v1 was active; from here on every request must be answered

    const deployment = await deploy(t, v2.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model?.version === '2.0.0' && s.phase === 'soaking', 60_000, 'v2 soaking');
    proxy.blackhole();
    const partitionedAt = Date.now();

    // Partitioned: requests are still answered, the soak ends and the agent commits v2 by itself.
    await waitFor(async () => (await request(), agent.status()), (s) => s.model?.version === '2.0.0' && s.phase === 'idle', 60_000, 'v2 committed on the node');
    // Longer than the soak, and the control plane has not heard of the commit.
    await waitFor(async () => (await request(), Date.now() - partitionedAt), (ms) => ms > (SOAK_SECONDS + 2) * 1000, 30_000, 'a partition longer than the soak');
    const target = async () =>
      ((await t.db.query(`SELECT state::text AS state FROM deployment_targets WHERE deployment_id = $1 AND node_id = $2`, [deployment.id, agent.nodeId])) as { state: string }[])[0]?.state;
    expect(await target()).not.toBe('committed');
    const heartbeatsBefore = await heartbeats();
    expect(refused).toEqual([]);

    proxy.restore();
    await waitFor(target, (s) => s === 'committed', 90_000, 'the commit reached the control plane').catch(async (error: unknown) => {
      console.log(agent.logs.slice(-30).join('\n'));
      throw error;
    });
    await waitFor(
      async () => ((await t.db.query(`SELECT current_model_version_id AS v FROM nodes WHERE id = $1`, [agent.nodeId])) as { v: string }[])[0]?.v,
      (v) => v === v2.id,
      30_000,
      'the node reported as running v2',
    );
    await waitFor(heartbeats, (n) => n > heartbeatsBefore, 30_000, 'heartbeats again');
    // Every request served, online or partitioned, stored exactly once.
    const stored = await waitFor(
      async () => {
        await t.app.get(TelemetryService).flush();
        return ((await t.db.query(`SELECT count(*)::int AS n, count(DISTINCT input_ref)::int AS refs FROM inference_results WHERE node_id = $1`, [agent.nodeId])) as { n: number; refs: number }[])[0];
      },
      (r) => r?.n === served,
      60_000,
      'every served request stored',
    );
    expect(stored).toEqual({ n: served, refs: served });
  }, 300_000);

  async function heartbeats(): Promise<number> {
    return ((await t.db.query(`SELECT count(*)::int AS n FROM node_heartbeats WHERE node_id = $1`, [agent.nodeId])) as { n: number }[])[0]?.n ?? 0;
  }
});
