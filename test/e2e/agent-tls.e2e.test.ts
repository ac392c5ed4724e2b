import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBrokerTls } from '../../pipeline/src/broker-tls.js';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const RESULTS = 20;

/**
 * MQTT over TLS as production runs it: a broker with only the TLS listener of
 * deploy/mosquitto/mosquitto-tls.conf and dynamic security, a control plane and real agents that pin the
 * broker's CA (scripts/make-tls.sh).
 */
describe('MQTT over TLS: agents pin the broker CA', () => {
  let broker: TestBroker;
  let t: TestApp;
  let caFile: string;
  let otherCaDir: string;
  const agents: AgentProcess[] = [];
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  const start = async (options: { mqttCaFile: string; brokerUrl?: string }) => {
    const { token } = await createEnrollmentToken(t);
    const agent = await AgentProcess.create({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 2, seconds: 600 }, ...options });
    agents.push(agent);
    return agent;
  };
  const targetStates = async (deploymentId: string) =>
    ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null }[]).map((x) => x.state);

  beforeAll(async () => {
    broker = await startTestBroker({ tls: true, dynsec: cp });
    if (!broker.tls) throw new Error('the test broker has no TLS files');
    caFile = broker.tls.caFile;
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_CA_FILE: caFile, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true' });
    await createModel(t, 'tls', INPUTS, 4);
    otherCaDir = await mkdtemp(join(tmpdir(), 'ef-other-ca-'));
  }, 60_000);

  afterAll(async () => {
    for (const agent of agents) await agent.remove();
    await t?.close();
    await broker?.stop();
    if (otherCaDir) await rm(otherCaDir, { recursive: true, force: true });
  });

  it('enrols, takes a deployment, commits it and delivers inference results over mqtts://', async () => {
    expect(broker.url).toMatch(/^mqtts:\/\//);
    const agent = await start({ mqttCaFile: caFile });
    await agent.restart();
    await waitFor(() => agent.status() as Promise<{ connected?: boolean }>, (s) => s.connected === true, 20_000, 'agent connected over TLS');

    const version = await uploadVersion(t, 'tls', { version: '1.0.0' }, denseSoftmaxModel(3, INPUTS).bytes);
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    await waitFor(() => agent.status(), (s) => s.model?.sha256 === version.sha256 && s.phase === 'soaking', 30_000, 'model soaking');
    for (let i = 0; i < RESULTS; i++) {
      const res = await fetch(`${agent.url}/v1/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: Array.from({ length: INPUTS }, (_, j) => ((i + j) % 7) / 7), inputRef: `tls-${i}` }),
      });
      expect(res.status).toBe(200);
    }
    expect(await waitFor(() => targetStates(deployment.id), (s) => s.every((x) => x === 'committed'), 30_000, 'committed')).toEqual(['committed']);
    const refs = await waitFor(
      async () => {
        await t.app.get(TelemetryService).flush();
        return ((await t.db.query('SELECT input_ref FROM inference_results WHERE node_id = $1', [agent.nodeId])) as { input_ref: string }[]).map((r) => r.input_ref);
      },
      (r) => r.length >= RESULTS,
      30_000,
      'results stored',
    );
    expect(new Set(refs)).toEqual(new Set(Array.from({ length: RESULTS }, (_, i) => `tls-${i}`)));
  }, 90_000);

  it('refuses a broker whose certificate does not chain to the CA it pins, says why, and keeps retrying', async () => {
    const other = await makeBrokerTls(otherCaDir);
    const agent = await start({ mqttCaFile: other.caFile });
    await agent.restart(); // serving starts regardless: the local API does not need the broker
    const refusals = () => agent.logs.filter((line) => line.includes('is not trusted'));
    await waitFor(async () => refusals().length, (n) => n >= 2, 30_000, 'two refused connection attempts');
    const refusal = JSON.parse(refusals()[0] ?? '{}') as { level?: string; msg?: string; caFile?: string; code?: string };
    expect(refusal).toMatchObject({ level: 'error', caFile: other.caFile });
    expect(refusal.msg).toContain('does not chain to the pinned CA');
    expect(refusal.code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
    expect(((await agent.status()) as unknown as { connected: boolean }).connected).toBe(false);
    expect(agent.logs.some((line) => line.includes('connected to the broker'))).toBe(false);
  }, 60_000);

  it('refuses plain MQTT when it pins a CA (exit 78, not its password in the clear); brokerUrl then moves the enrolled node to TLS', async () => {
    const agent = await start({ mqttCaFile: caFile, brokerUrl: `mqtt://127.0.0.1:${broker.port}` });
    await expect(agent.restart()).rejects.toThrow(/agent exited with 78/);
    expect(agent.logs.join('\n')).toContain('mqttCaFile is set but the broker URL mqtt://127.0.0.1');
    // Enrolled already (identity.json holds the plain URL): the operator's fix applies without re-enrolment.
    await agent.updateConfig({ brokerUrl: broker.url });
    await agent.restart();
    await waitFor(() => agent.status() as Promise<{ connected?: boolean }>, (s) => s.connected === true, 20_000, 'agent connected over TLS');
  }, 60_000);
});
