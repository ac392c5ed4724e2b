import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fleetTopics } from '#protocol';
import { bearer, createEnrollmentToken, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';

const HOOK_SECRET = 'broker-hook-secret-0123456789abcdef-xyz';
const CP = { MQTT_USERNAME: 'edgefleet-cp-hooks', MQTT_PASSWORD: 'cp-password-for-the-hook-test' };

/**
 * The HTTP auth hooks a clustered broker (EMQX) calls instead of Mosquitto's dynamic security, driven
 * with the request bodies EMQX's templates send (docs/scaling.md#a-clustered-broker), on real PostgreSQL.
 */
describe('broker HTTP auth hooks', () => {
  let t: TestApp;
  let node: { nodeId: string; nodeSecret: string };
  let other: { nodeId: string; nodeSecret: string };
  const hook = (path: string, body: unknown, secret = HOOK_SECRET) => t.http().post(`/v1/broker/${path}`).set(bearer(secret)).send(body as object);

  beforeAll(async () => {
    t = await startTestApp({ BROKER_HOOK_SECRET: HOOK_SECRET, ...CP });
    const enrol = async (nodeKey: string) => {
      const { token } = await createEnrollmentToken(t);
      return (await t.http().post('/v1/enroll').send({ token, nodeKey, hardware }).expect(200)).body as { nodeId: string; nodeSecret: string };
    };
    node = await enrol('node-key-hooks-0001');
    other = await enrol('node-key-hooks-0002');
  });
  afterAll(() => t.close());

  const topics = () => fleetTopics(t.config.mqtt.fleetNamespace);
  const login = (n: { nodeId: string; nodeSecret: string }, over: Record<string, string> = {}) =>
    hook('authenticate', { username: n.nodeId, password: n.nodeSecret, clientid: `node-${n.nodeId}`, ...over });

  it('lets a node in with its secret on its pinned client id, with its own ACL and a final deny', async () => {
    const res = await login(node).expect(200);
    expect(res.body).toMatchObject({ result: 'allow', is_superuser: false });
    const acl = res.body.acl as { permission: string; action: string; topic: string }[];
    expect(acl).toContainEqual({ permission: 'allow', action: 'publish', topic: `eq ${topics().uplink(node.nodeId, 'heartbeat')}` });
    expect(acl).toContainEqual({ permission: 'allow', action: 'subscribe', topic: `eq ${topics().desired(node.nodeId)}` });
    expect(acl).toContainEqual({ permission: 'allow', action: 'subscribe', topic: `eq ${topics().allArtifactChunks}` });
    expect(acl.at(-1)).toEqual({ permission: 'deny', action: 'all', topic: '#' });
    expect(JSON.stringify(acl)).not.toContain(other.nodeId);
    expect(acl.filter((r) => r.permission === 'allow').every((r) => r.topic.startsWith('eq '))).toBe(true);
  });

  it('denies a wrong secret, another node\'s secret and a client id that is not the node\'s', async () => {
    expect((await login(node, { password: 'efn_wrong' }).expect(200)).body).toEqual({ result: 'deny', is_superuser: false });
    expect((await login(node, { password: other.nodeSecret }).expect(200)).body.result).toBe('deny');
    expect((await login(node, { clientid: `node-${other.nodeId}` }).expect(200)).body.result).toBe('deny');
    expect((await login(node, { password: '' }).expect(200)).body.result).toBe('deny');
  });

  it('ignores usernames that are not this installation\'s (another installation\'s hook may answer them)', async () => {
    expect((await hook('authenticate', { username: 'someone-else', password: 'x', clientid: 'c' }).expect(200)).body.result).toBe('ignore');
    expect((await hook('authenticate', { username: '00000000-0000-4000-8000-000000000000', password: 'x', clientid: 'c' }).expect(200)).body.result).toBe('ignore');
  });

  it('authorizes a node per action exactly as its ACL says', async () => {
    const ask = (action: string, topic: string, n = node) => hook('authorize', { username: n.nodeId, clientid: `node-${n.nodeId}`, action, topic }).expect(200).then((r) => r.body.result as string);
    expect(await ask('publish', topics().uplink(node.nodeId, 'results'))).toBe('allow');
    expect(await ask('subscribe', topics().desired(node.nodeId))).toBe('allow');
    expect(await ask('subscribe', topics().allArtifactChunks)).toBe('allow');
    expect(await ask('publish', topics().uplink(other.nodeId, 'results'))).toBe('deny');
    expect(await ask('subscribe', topics().desired(other.nodeId))).toBe('deny');
    expect(await ask('subscribe', topics().everything)).toBe('deny');
    expect(await ask('subscribe', '#')).toBe('deny');
    expect(await ask('publish', topics().desired(node.nodeId))).toBe('deny');
    // One of our nodes off its pinned client id: refused, not left to the broker's fallback.
    const res = await hook('authorize', { username: node.nodeId, clientid: 'intruder', action: 'publish', topic: topics().uplink(node.nodeId, 'results') }).expect(200);
    expect(res.body.result).toBe('deny');
    // A username this installation does not know: another authorizer's to answer.
    const unknown = await hook('authorize', { username: '00000000-0000-4000-8000-000000000000', clientid: 'node-00000000-0000-4000-8000-000000000000', action: 'publish', topic: 'x' }).expect(200);
    expect(unknown.body.result).toBe('ignore');
  });

  it('lets the control plane account in with its password, held to its namespace', async () => {
    const res = await hook('authenticate', { username: CP.MQTT_USERNAME, password: CP.MQTT_PASSWORD, clientid: 'edgefleet-cp-x' }).expect(200);
    expect(res.body.result).toBe('allow');
    expect(res.body.acl).toContainEqual({ permission: 'allow', action: 'all', topic: topics().everything });
    expect((await hook('authenticate', { username: CP.MQTT_USERNAME, password: 'nope', clientid: 'c' }).expect(200)).body.result).toBe('deny');
    const ask = (topic: string) => hook('authorize', { username: CP.MQTT_USERNAME, clientid: 'c', action: 'subscribe', topic }).expect(200).then((r) => r.body.result as string);
    expect(await ask(topics().sharedUplink(t.config.mqtt.sharedGroup, 'heartbeat'))).toBe('allow');
    expect(await ask('ef/v1/another-installation/nodes/+/heartbeat')).toBe('deny');
  });

  it('refuses a decommissioned node', async () => {
    const { nodeId, nodeSecret } = await (async () => {
      const { token } = await createEnrollmentToken(t);
      return (await t.http().post('/v1/enroll').send({ token, nodeKey: 'node-key-hooks-0003', hardware }).expect(200)).body as { nodeId: string; nodeSecret: string };
    })();
    expect((await login({ nodeId, nodeSecret }).expect(200)).body.result).toBe('allow');
    await t.http().post(`/v1/nodes/${nodeId}/decommission`).set(bearer(t.adminKey)).expect(200);
    expect((await login({ nodeId, nodeSecret }).expect(200)).body.result).toBe('deny');
    // Still connected from before: each publish is refused, not left to the broker's fallback.
    const ask = await hook('authorize', { username: nodeId, clientid: `node-${nodeId}`, action: 'publish', topic: topics().uplink(nodeId, 'heartbeat') }).expect(200);
    expect(ask.body.result).toBe('deny');
  });

  it('answers only the broker: 401 problem without the hook secret or with an API key, 400 on a malformed body', async () => {
    const noAuth = await t.http().post('/v1/broker/authenticate').send({ username: node.nodeId, password: node.nodeSecret, clientid: `node-${node.nodeId}` }).expect(401);
    expect(noAuth.headers['content-type']).toContain('application/problem+json');
    await hook('authenticate', { username: node.nodeId, password: node.nodeSecret, clientid: `node-${node.nodeId}` }, t.adminKey).expect(401);
    const bad = await hook('authorize', { username: node.nodeId, clientid: 'c', action: 'retain', topic: 'x' }).expect(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    await hook('authenticate', { username: 'x'.repeat(300), password: 'p', clientid: 'c' }).expect(400);
  });
});
