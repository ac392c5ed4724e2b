import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { generateSigningKey, type SigningKey, signEnrolmentProof } from '#trust';
import { bearer, createApiKey, createEnrollmentToken, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

interface Enrolled {
  nodeId: string;
  nodeSecret: string;
  mqtt: { url: string; username: string; password: string; clientId: string };
}

/** Issue 11, hole 3: node identity takeover (node keys readable by viewers; token + node key re-keyed a node). */
describe('node identity: no readable node keys, proof of possession for re-enrolment', () => {
  let broker: TestBroker;
  let t: TestApp;
  let viewer: string;
  let operator: string;
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  beforeAll(async () => {
    broker = await startTestBroker({ dynsec: cp });
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true' });
    viewer = await createApiKey(t, 'viewer');
    operator = await createApiKey(t, 'operator');
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await broker?.stop();
  });

  const newNodeKey = () => `node-${randomBytes(16).toString('hex')}`;
  const enroll = (body: Record<string, unknown>) => t.http().post('/v1/enroll').send({ hardware, ...body });
  const challenge = async (nodeKey: string) => (await t.http().post('/v1/enroll/challenge').send({ nodeKey }).expect(200)).body as { nonce: string; expiresAt: string };
  const proofBy = (key: SigningKey, nonce: string, nodeKey: string, publicKey = key.publicKey) => ({
    nonce,
    signature: signEnrolmentProof(key.privateKey, { nonce, nodeKey, publicKey }),
  });

  /** A node as the agent enrols it: its own key pair, the public key registered with a fresh token. */
  async function enrolNode(): Promise<{ nodeKey: string; key: SigningKey; token: string; enrolled: Enrolled }> {
    const { token } = await createEnrollmentToken(t, { maxUses: 1 });
    const nodeKey = newNodeKey();
    const key = generateSigningKey();
    const enrolled = (await enroll({ token, nodeKey, publicKey: key.publicKey }).expect(200)).body as Enrolled;
    return { nodeKey, key, token, enrolled };
  }

  async function canConnect(e: Enrolled, password = e.mqtt.password): Promise<boolean> {
    try {
      const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: e.mqtt.clientId, username: e.mqtt.username, password, reconnectPeriod: 0, connectTimeout: 5000 });
      await client.endAsync();
      return true;
    } catch {
      return false;
    }
  }

  it('shows a viewer node ids, names, labels and status, but no node key, in nodes and in the audit log', async () => {
    const { nodeKey, enrolled } = await enrolNode();
    const list = await t.http().get('/v1/nodes').set(bearer(viewer)).expect(200);
    const one = await t.http().get(`/v1/nodes/${enrolled.nodeId}`).set(bearer(viewer)).expect(200);
    const audit = await t.http().get('/v1/audit-events').set(bearer(viewer)).expect(200);
    expect(one.body).toMatchObject({ id: enrolled.nodeId, status: 'offline', labels: {} });
    for (const body of [list.body, one.body, audit.body]) {
      expect(JSON.stringify(body)).not.toContain(nodeKey);
      expect(JSON.stringify(body)).not.toContain('nodeKey');
    }
  });

  it('refuses a re-enrolment with the token and the node key but no proof (401), and the real node keeps its broker credentials', async () => {
    const { nodeKey, token, enrolled } = await enrolNode();
    const res = await enroll({ token, nodeKey }).expect(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.detail).toContain('POST /v1/enroll/challenge');
    expect(res.body.detail).toContain('reset-identity');
    expect(await canConnect(enrolled)).toBe(true);
  });

  it('refuses a re-enrolment signed by another key, even with a genuine challenge, and the attacker’s key is not registered', async () => {
    const { nodeKey, token, enrolled } = await enrolNode();
    const attacker = generateSigningKey();
    const { nonce } = await challenge(nodeKey);
    const res = await enroll({ token, nodeKey, publicKey: attacker.publicKey, proof: proofBy(attacker, nonce, nodeKey) }).expect(401);
    expect(res.body.detail).toContain('does not verify');
    expect(await canConnect(enrolled)).toBe(true);
    const [row] = (await t.db.query('SELECT public_key FROM nodes WHERE id = $1', [enrolled.nodeId])) as { public_key: string }[];
    expect(row?.public_key).not.toBe(attacker.publicKey);
  });

  it('re-enrols the same node with a valid signature, without the token: new broker password, the old one refused', async () => {
    const { nodeKey, key, enrolled } = await enrolNode();
    const { nonce, expiresAt } = await challenge(nodeKey);
    expect(new Date(expiresAt).getTime()).toBeGreaterThan(Date.now());
    const again = (await enroll({ nodeKey, publicKey: key.publicKey, proof: proofBy(key, nonce, nodeKey) }).expect(200)).body as Enrolled;
    expect(again.nodeId).toBe(enrolled.nodeId);
    expect(await canConnect(again)).toBe(true);
    expect(await canConnect(enrolled)).toBe(false);
    // The challenge was spent: the same signed answer does not work twice.
    const replay = await enroll({ nodeKey, publicKey: key.publicKey, proof: proofBy(key, nonce, nodeKey) }).expect(401);
    expect(replay.body.detail).toContain('challenge');
  });

  it('refuses an expired challenge', async () => {
    const { nodeKey, key } = await enrolNode();
    const { nonce } = await challenge(nodeKey);
    await t.db.query(`UPDATE enrollment_challenges SET expires_at = now() - interval '1 second'`);
    await enroll({ nodeKey, publicKey: key.publicKey, proof: proofBy(key, nonce, nodeKey) }).expect(401);
  });

  it('gives a challenge only for an enrolled node key (404 otherwise)', async () => {
    const res = await t.http().post('/v1/enroll/challenge').send({ nodeKey: newNodeKey() }).expect(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('makes tokens single-use and valid for 24 h unless the operator says otherwise; a used token is refused', async () => {
    const created = await t.http().post('/v1/enrollment-tokens').set(bearer(t.adminKey)).send({ name: 'one-device' }).expect(201);
    expect(created.body.maxUses).toBe(1);
    const lifetime = new Date(created.body.expiresAt as string).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(23.9 * 3600_000);
    expect(lifetime).toBeLessThanOrEqual(24 * 3600_000);
    await enroll({ token: created.body.token, nodeKey: newNodeKey(), publicKey: generateSigningKey().publicKey }).expect(200);
    const res = await enroll({ token: created.body.token, nodeKey: newNodeKey(), publicKey: generateSigningKey().publicKey }).expect(403);
    expect(res.body.detail).toBe('enrolment token has no uses left');
    // Mass provisioning stays possible, explicitly and within bounds.
    await t.http().post('/v1/enrollment-tokens').set(bearer(t.adminKey)).send({ name: 'line-3', maxUses: 500, expiresInSeconds: 7 * 86400 }).expect(201);
    await t.http().post('/v1/enrollment-tokens').set(bearer(t.adminKey)).send({ name: 'forever', maxUses: 100_000, expiresInSeconds: 31_536_000 }).expect(400);
  });

  it('lets an admin reset a node’s identity: its credentials stop working, and one new key registers with the token the reset gives', async () => {
    const { nodeKey, enrolled } = await enrolNode();
    await t.http().post(`/v1/nodes/${enrolled.nodeId}/reset-identity`).set(bearer(operator)).expect(403);
    const reset = await t.http().post(`/v1/nodes/${enrolled.nodeId}/reset-identity`).set(bearer(t.adminKey)).expect(200);
    expect(reset.body).toMatchObject({ nodeId: enrolled.nodeId, token: expect.stringMatching(/^eft_/), expiresAt: expect.any(String) });
    expect(await canConnect(enrolled)).toBe(false);

    // The reset token re-enrols only this node, once.
    await enroll({ token: reset.body.token, nodeKey: newNodeKey(), publicKey: generateSigningKey().publicKey }).expect(403);
    const fresh = generateSigningKey();
    const again = (await enroll({ token: reset.body.token, nodeKey, publicKey: fresh.publicKey }).expect(200)).body as Enrolled;
    expect(again.nodeId).toBe(enrolled.nodeId);
    expect(await canConnect(again)).toBe(true);
    await enroll({ token: reset.body.token, nodeKey, publicKey: generateSigningKey().publicKey }).expect(401);
    // From now on the new key is the one that proves the node.
    const { nonce } = await challenge(nodeKey);
    await enroll({ nodeKey, publicKey: fresh.publicKey, proof: proofBy(fresh, nonce, nodeKey) }).expect(200);

    const audit = await t.http().get('/v1/audit-events').query({ targetType: 'node', targetId: enrolled.nodeId }).set(bearer(viewer)).expect(200);
    expect((audit.body as { action: string }[]).map((e) => e.action)).toEqual(expect.arrayContaining(['node.enroll', 'node.reset-identity', 'node.re-enroll']));
    expect(JSON.stringify(audit.body)).not.toContain(nodeKey);
  });

  it('keeps a node enrolled without a key (an older agent) from being re-keyed by token and node key; a reset lets it register one', async () => {
    const { token } = await createEnrollmentToken(t, { maxUses: 1 });
    const nodeKey = newNodeKey();
    const enrolled = (await enroll({ token, nodeKey }).expect(200)).body as Enrolled;
    await t.http().post('/v1/enroll/challenge').send({ nodeKey }).expect(409);
    const res = await enroll({ token, nodeKey, publicKey: generateSigningKey().publicKey }).expect(401);
    expect(res.body.detail).toContain('reset-identity');
    expect(await canConnect(enrolled)).toBe(true);

    const reset = await t.http().post(`/v1/nodes/${enrolled.nodeId}/reset-identity`).set(bearer(t.adminKey)).expect(200);
    const key = generateSigningKey();
    const again = (await enroll({ token: reset.body.token, nodeKey, publicKey: key.publicKey }).expect(200)).body as Enrolled;
    expect(again.nodeId).toBe(enrolled.nodeId);
    expect(await canConnect(again)).toBe(true);
  });
});
