import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importPrivateKey } from '#trust';
import { TelemetryService } from '../../apps/control-plane/src/telemetry/telemetry.service.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Issue 11, hole 3: the agent registers a key pair, forgets its token, and re-enrols by signing a challenge. */
describe('agent identity: key pair at enrolment, re-enrolment by proof, no token kept', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess | undefined;
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  beforeAll(async () => {
    broker = await startTestBroker({ dynsec: cp });
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true' });
  }, 60_000);
  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  const heartbeats = async (nodeId: string) => {
    await t.app.get(TelemetryService).flush();
    return Number(((await t.db.query('SELECT count(*) AS n FROM node_heartbeats WHERE node_id = $1', [nodeId])) as { n: string }[])[0]?.n);
  };
  const keepsReporting = async (nodeId: string) => {
    const before = await heartbeats(nodeId);
    await waitFor(() => heartbeats(nodeId), (n) => n >= before + 2, 15_000, 'heartbeats over the broker');
  };

  it('enrols with a single-use token, restarts, re-enrols without it by signing a challenge, and keeps working', async () => {
    const { token } = await createEnrollmentToken(t, { maxUses: 1 });
    agent = await AgentProcess.create({ controlPlaneUrl: t.url, enrollmentToken: token });
    await agent.restart();
    const nodeId = agent.nodeId;
    await keepsReporting(nodeId);

    // The key pair: private key 0600 in the state directory, its public key registered.
    const stateDir = join(agent.stateDir, 'state');
    const keyFile = join(stateDir, 'enrolment-key.pem');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const [row] = (await t.db.query('SELECT public_key FROM nodes WHERE id = $1', [nodeId])) as { public_key: string | null }[];
    expect(row?.public_key).toBe(importPrivateKey(await readFile(keyFile, 'utf8')).publicKey);

    // A plain restart needs nothing from the control plane.
    await agent.stop();
    await agent.restart();
    expect(agent.nodeId).toBe(nodeId);
    await agent.stop();

    // The operator removes the token from agent.json; the node has to enrol again (its saved identity is
    // outdated), with the token spent and gone: only its key pair can get it back in.
    const configPath = join(agent.stateDir, 'agent.json');
    const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    delete config['enrollmentToken'];
    await writeFile(configPath, JSON.stringify(config));
    const identityPath = join(stateDir, 'identity.json');
    const saved = JSON.parse(await readFile(identityPath, 'utf8')) as { nodeSecret: string; mqtt: Record<string, unknown> };
    delete saved.mqtt['namespace'];
    await writeFile(identityPath, JSON.stringify(saved));

    await agent.restart();
    expect(agent.nodeId).toBe(nodeId);
    const renewed = JSON.parse(await readFile(identityPath, 'utf8')) as { nodeSecret: string };
    expect(renewed.nodeSecret).not.toBe(saved.nodeSecret);
    expect(Object.keys(renewed)).not.toContain('signingKey'); // the private key stays in its own 0600 file
    await keepsReporting(nodeId);
    const audit = await t.http().get('/v1/audit-events').query({ targetType: 'node', targetId: nodeId }).set(bearer(t.adminKey)).expect(200);
    expect(audit.body).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'node.re-enroll', actor: `node:${nodeId}`, details: { by: 'proof' } })]));

    // Nowhere in the state directory, nor in the agent's logs, is the token.
    for (const file of await filesUnder(stateDir)) expect((await readFile(file)).includes(token)).toBe(false);
    expect(agent.logs.join('\n')).not.toContain(token);
  }, 120_000);
});
