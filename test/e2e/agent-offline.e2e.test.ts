import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;

describe('offline: results while the broker is down', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '20' });
    await createModel(t, 'offline', INPUTS, 4);
    const { token } = await createEnrollmentToken(t);
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.2 } });
    const version = await uploadVersion(t, 'offline', { version: '1.0.0' }, denseSoftmaxModel(9, INPUTS).bytes);
    await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model !== null && s.phase === 'idle', 30_000, 'model active');
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  const stored = async () =>
    ((await t.db.query('SELECT input_ref FROM inference_results WHERE node_id = $1', [agent.nodeId])) as { input_ref: string }[]).map((r) => r.input_ref);

  async function send(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      const res = await fetch(`${agent.url}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: Array.from({ length: INPUTS }, () => i / to), inputRef: `req-${i}` }),
      });
      expect(res.status).toBe(200);
    }
  }

  it('keeps serving while the broker is down and delivers every result exactly once after it returns', async () => {
    await send(0, 100); // online
    await broker.pause();
    await waitFor(() => agent.status() as Promise<{ connected?: boolean }>, (s) => s.connected === false, 10_000, 'agent offline');
    await send(100, 400); // offline: local requests still served, results spooled on disk (a batch per second or 1,000 results)
    await waitFor(() => agent.status() as unknown as Promise<{ results: { spooled: number } }>, (s) => s.results.spooled > 0, 10_000, 'results spooled while offline');
    await broker.resume();
    const refs = await waitFor(
      async () => {
        await t.app.get(TelemetryService).flush();
        return stored();
      },
      (r) => r.length >= 400,
      60_000,
      'all results stored',
    ).catch(async (error: unknown) => {
      console.log(JSON.stringify(await agent.status()), agent.logs.slice(-30).join('\n'));
      throw error;
    });
    expect(refs).toHaveLength(400);
    expect(new Set(refs)).toEqual(new Set(Array.from({ length: 400 }, (_, i) => `req-${i}`)));
  }, 120_000);
});
