import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fleetTopics } from '#protocol';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { captureRetainedDesired } from '../helpers/retained-desired.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 16;
const MODEL = 'replay';

interface LogEntry {
  readonly msg?: string;
  readonly deploymentId?: string;
  readonly to?: string;
}

/**
 * An attacker with the broker's powers (here: the test's own client on a broker without dynsec) keeps
 * every genuine desired state it ever saw and replays them later, in order and within their lifetime,
 * or forges one naming a deployment. The real agent must neither go back to a rolled-back release nor
 * let a document it could not verify change any deployment's outcome.
 */
describe('replayed and forged desired states on a real agent', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  let publisher: mqtt.MqttClient;
  const captured = new Map<string, Buffer>();
  let latest = '';

  const where = () => ({ url: broker.url, namespace: t.config.mqtt.fleetNamespace });
  const upload = (version: string, seed: number) => uploadVersion(t, MODEL, { version }, denseSoftmaxModel(seed, INPUTS).bytes);
  const target = async (deploymentId: string) =>
    ((await t.http().get(`/v1/deployments/${deploymentId}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null; reason: string | null }[])[0];
  const updateRecord = async () =>
    JSON.parse(await readFile(join(agent.stateDir, 'state', 'update.json'), 'utf8')) as { phase: string; installed: Record<string, number>; statusSeq: number; desired?: { desired: { signed: { deploymentId: string } } } };
  const entries = (from: number): LogEntry[] =>
    agent.logs.slice(from).flatMap((line) => {
      try {
        return [JSON.parse(line) as LogEntry];
      } catch {
        return [];
      }
    });
  const replay = (payload: Buffer) => publisher.publishAsync(fleetTopics(t.config.mqtt.fleetNamespace).desired(agent.nodeId), payload, { qos: 1 });
  /** Deploys a version, waits for the commit, and keeps the genuine document the node was sent. */
  const deployAndCapture = async (versionId: string): Promise<string> => {
    const deployment = await deploy(t, versionId, { nodeIds: [agent.nodeId] });
    captured.set(deployment.id, await captureRetainedDesired(where(), agent.nodeId, deployment.id));
    await waitFor(() => target(deployment.id), (x) => x?.state === 'committed', 30_000, `deployment ${deployment.id} committed`);
    latest = deployment.id;
    return deployment.id;
  };
  /** Replays documents and waits until the agent has dealt with each: refused it, or acted on it (the hole). */
  const replayAll = async (deploymentIds: readonly string[]): Promise<LogEntry[]> => {
    const from = agent.logs.length;
    for (const id of deploymentIds) await replay(captured.get(id) as Buffer);
    const handled = (e: LogEntry) => e.msg === 'refused a desired state' || (e.msg === 'update transition' && e.to === 'downloading');
    return waitFor(
      async () => entries(from),
      (seen) => deploymentIds.every((id) => seen.some((e) => e.deploymentId === id && handled(e))),
      10_000,
      'every replayed document handled',
    );
  };
  const rejectionsOf = async (deploymentId: string) =>
    ((await t.db.query(`SELECT reason FROM deployment_status_events WHERE deployment_id = $1 AND state = 'rejected'`, [deploymentId])) as { reason: string }[]).map((r) => r.reason);

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, INGEST_FLUSH_MS: '50' });
    await createModel(t, MODEL, INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: MODEL } });
    // Soaks end on time: every deployment commits without feeding inferences.
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, soak: { inferences: 1, seconds: 0.3 } });
    publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  }, 60_000);

  afterAll(async () => {
    await publisher?.endAsync();
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('replayed genuine documents from before a fleet rollback never take the node back, nor lower its installed sequence', async () => {
    const v1 = await upload('1.0.0', 41);
    const v2 = await upload('2.0.0', 42);
    const v3 = await upload('3.0.0', 43);
    const d1 = await deployAndCapture(v1.id); // v1, sequence 1
    const d2 = await deployAndCapture(v2.id); // v2, sequence 2
    const d3 = await deployAndCapture(v1.id); // the rollback: v1 re-signed under sequence 3
    expect((await agent.status()).model?.sha256).toBe(v1.sha256);
    expect((await updateRecord()).installed).toEqual({ [MODEL]: 3 });

    // Rolling forward to v3 through a rollout whose maintenance window is shut (New Year's night): the
    // node downloads and self-tests, then waits, still serving v1 — the replays arrive meanwhile.
    const shut = { cron: '0 0 1 1 *', durationMinutes: 1, timezone: 'UTC' };
    await startRollout(t, { modelVersionId: v3.id, selector: `fleet=${MODEL}`, strategy: { maintenanceWindow: shut } });
    const waiting = await waitFor(
      async () => (await t.db.query(`SELECT deployment_id AS id FROM deployment_status_events WHERE node_id = $1 AND state = 'self-tested' AND detail LIKE 'waiting for the activation window%'`, [agent.nodeId])) as { id: string }[],
      (rows) => rows.length > 0,
      30_000,
      'v3 self-tested, waiting for its window',
    );
    const d4 = waiting[0]?.id as string;
    captured.set(d4, await captureRetainedDesired(where(), agent.nodeId, d4));

    const handled = await replayAll([d1, d2, d3]);
    // Each old document is refused: none of them starts an update (d3 asks for the release that serves).
    expect(handled.filter((e) => e.msg === 'update transition').map((e) => e.deploymentId)).toEqual([]);
    expect(await agent.status()).toMatchObject({ phase: 'self-testing', model: { sha256: v1.sha256 } });
    const waitingRecord = await updateRecord();
    expect(waitingRecord.desired?.desired.signed.deploymentId).toBe(d4);
    expect(waitingRecord.installed).toEqual({ [MODEL]: 3 });
    expect(await target(d4)).toMatchObject({ state: 'self-tested' });
    expect(await rejectionsOf(d4)).toEqual([]);

    // A deployment by hand takes the node to v3 at once; then every old document comes again, in order.
    const d5 = await deployAndCapture(v3.id);
    expect((await updateRecord()).installed).toEqual({ [MODEL]: 4 });
    const after = await replayAll([d1, d2, d3, d4]);
    expect(after.filter((e) => e.msg === 'update transition').map((e) => e.deploymentId)).toEqual([]);
    expect(await agent.status()).toMatchObject({ phase: 'idle', model: { sha256: v3.sha256 } });
    const record = await updateRecord();
    expect(record.installed).toEqual({ [MODEL]: 4 });
    expect(record.desired?.desired.signed.deploymentId).toBe(d5);
    expect(await target(d5)).toMatchObject({ state: 'committed' });
    expect(await rejectionsOf(d5)).toEqual([]);
  });

  it('a forged desired state naming a committed deployment changes no outcome: refused, and reported against no deployment', async () => {
    const committed = latest;
    const genuine = JSON.parse((captured.get(committed) as Buffer).toString('utf8')) as { id: string; desired: { signed: Record<string, unknown>; signatures: { keyId: string; sig: string }[] } };
    const older = JSON.parse((captured.values().next().value as Buffer).toString('utf8')) as { desired: { signed: { manifest: unknown } }; artifact: unknown };
    // The committed deployment's id with the oldest release in it: the genuine signatures no longer
    // match; and the same document "signed" by a key the node does not know.
    const tampered = { ...genuine, id: randomUUID(), desired: { ...genuine.desired, signed: { ...genuine.desired.signed, manifest: older.desired.signed.manifest } }, artifact: older.artifact };
    const unknownKey = { ...tampered, id: randomUUID(), desired: { ...tampered.desired, signatures: [{ keyId: 'a'.repeat(64), sig: Buffer.alloc(64).toString('base64') }] } };
    const statusSeq = (await updateRecord()).statusSeq;
    const from = agent.logs.length;
    for (const forged of [tampered, unknownKey]) await replay(Buffer.from(JSON.stringify(forged)));
    await waitFor(async () => entries(from).filter((e) => e.msg === 'refused a desired state'), (refused) => refused.length === 2, 10_000, 'both forgeries refused');

    // The status outbox persists a status before sending it: a refusal reported would show here first.
    expect((await updateRecord()).statusSeq).toBe(statusSeq);
    expect(await target(committed)).toMatchObject({ state: 'committed' });
    expect(await rejectionsOf(committed)).toEqual([]);
    expect(((await agent.status()).model as { sha256: string }).sha256).not.toBe((older.artifact as { sha256: string }).sha256);
  });
});
