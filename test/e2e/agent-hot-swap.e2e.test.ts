import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
/** Each swap soaks 2 s under four clients in a tight loop: ten swaps prove the point in half the CPU of twenty. */
const SWAPS = 10;
const CLIENTS = 4;

describe('hot swap under load', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;

  async function deployVersion(n: number): Promise<string> {
    const version = await uploadVersion(t, 'swap', { version: `2.0.${n}` }, denseSoftmaxModel(500 + n, INPUTS).bytes);
    await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    return version.sha256;
  }

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url });
    await createModel(t, 'swap', INPUTS, 4);
    const { token } = await createEnrollmentToken(t);
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 20, seconds: 2 } });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it(`serves continuous local requests across ${SWAPS} swaps with no failed request`, async () => {
    const first = await deployVersion(0);
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === first && s.phase === 'idle', 30_000, 'first model');

    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const modelsSeen = new Set<string>();
    const input = Array.from({ length: INPUTS }, (_, i) => i / INPUTS);
    const client = async () => {
      while (running) {
        try {
          const res = await agent.infer(input);
          const body = (await res.json()) as { model?: { sha256: string }; detail?: string };
          if (res.status === 200 && body.model) {
            ok++;
            modelsSeen.add(body.model.sha256);
          } else failures.push(`${res.status} ${body.detail ?? ''}`);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    for (let n = 1; n <= SWAPS; n++) {
      const sha = await deployVersion(n);
      await waitFor(() => agent.status(), (s) => s.model?.sha256 === sha && s.phase === 'idle', 30_000, `swap ${n}`);
    }
    running = false;
    await Promise.all(clients);
    console.log(`hot swap: ${SWAPS} swaps, ${ok} requests served, ${failures.length} failed, ${modelsSeen.size} models seen`);
    expect(failures).toEqual([]);
    expect(modelsSeen.size).toBe(SWAPS + 1);
    expect(ok).toBeGreaterThan(SWAPS * 20);
  }, 300_000);
});
