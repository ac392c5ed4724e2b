import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildRoot, type Envelope, generateSigningKey, type RootDocument, rootFingerprint, signRoot } from '#trust';
import { KeyStore } from '../../apps/control-plane/src/keys/key-store.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

interface SavedIdentity {
  root: Envelope<RootDocument>;
  mqtt: Record<string, unknown>;
}

describe('agent root pinning: the first root checked against trustRootSha256, re-enrolment keeps the trusted chain', () => {
  let broker: TestBroker;
  let t: TestApp;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
    t = await startTestApp({ MQTT_URL: broker.url, TRUST_RELOAD_MS: '300000' });
  }, 60_000);

  afterAll(async () => {
    for (const agent of agents) await agent.remove();
    await t?.close();
    await broker?.stop();
  });

  const create = async (config: Record<string, unknown> = {}) => {
    const { token } = await createEnrollmentToken(t);
    const agent = await AgentProcess.create({ controlPlaneUrl: t.url, enrollmentToken: token, config });
    agents.push(agent);
    return agent;
  };
  const identityPath = (agent: AgentProcess) => join(agent.stateDir, 'state', 'identity.json');
  const readIdentity = async (agent: AgentProcess) => JSON.parse(await readFile(identityPath(agent), 'utf8')) as SavedIdentity;
  /** An identity saved before fleet namespaces: the next start enrols again (by proof of its key). */
  const makeOutdated = async (agent: AgentProcess, root?: Envelope<RootDocument>) => {
    const saved = await readIdentity(agent);
    delete saved.mqtt['namespace'];
    await writeFile(identityPath(agent), JSON.stringify({ ...saved, root: root ?? saved.root }));
  };

  it('refuses (exit 78) a first root that does not match trustRootSha256, pins a matching one, and warns over http:// without one', async () => {
    const fingerprint = rootFingerprint((await new KeyStore(t.config.trust.keysDir).currentRoot()).signed);

    const wrong = await create({ trustRootSha256: 'e'.repeat(64) });
    await expect(wrong.restart()).rejects.toThrow('agent exited with 78');
    expect(wrong.logs.join('\n')).toMatch(/does not match trustRootSha256 e{64}/);
    await expect(access(identityPath(wrong))).rejects.toThrow(/ENOENT/);

    const pinned = await create({ trustRootSha256: fingerprint });
    await pinned.restart();
    expect(rootFingerprint((await readIdentity(pinned)).root.signed)).toBe(fingerprint);
    expect(pinned.logs.join('\n')).not.toContain('no trustRootSha256');

    const unpinned = await create();
    await unpinned.restart();
    const warning = unpinned.logs.map((l) => JSON.parse(l) as { level?: string; msg?: string }).find((l) => l.msg?.startsWith('enrolling over plain HTTP with no trustRootSha256'));
    expect(warning?.level).toBe('warn');
  }, 60_000);

  it('re-enrolment walks from the trusted root to a rotated one and keeps the pinned root; a root that does not follow is refused (exit 78)', async () => {
    const agent = await create();
    await agent.restart();
    const nodeId = agent.nodeId;
    const pinned = (await readIdentity(agent)).root;
    await agent.stop();

    // The fleet's root moves on by two versions while the node is away (the one between is fetched over HTTP).
    const store = new KeyStore(t.config.trust.keysDir);
    const between = await store.rotate('root', 30);
    const rotated = await store.rotate('release', 30);
    expect(rotated.version).toBe(between.version + 1);
    expect((await t.http().post('/v1/trust/reload').set(bearer(t.adminKey)).expect(200)).body).toEqual({ rootVersion: rotated.version, changed: true });
    await makeOutdated(agent);
    await agent.restart();
    expect(agent.nodeId).toBe(nodeId);
    expect((await readIdentity(agent)).root).toEqual(pinned);
    const walked = JSON.parse(await readFile(join(agent.stateDir, 'state', 'trust', 'roots', `${rotated.version}.json`), 'utf8')) as Envelope<RootDocument>;
    expect(walked.signed).toEqual(rotated);
    await agent.stop();

    // A node that trusts another root (say, an attacker answered an earlier enrolment) is not re-pinned.
    const keys = [generateSigningKey(), generateSigningKey()];
    const other = signRoot(buildRoot({ version: 1, expires: new Date(Date.now() + 86_400_000), rootKeys: keys, rootThreshold: 1, releaseKeys: keys, releaseThreshold: 1 }), keys);
    await rm(join(agent.stateDir, 'state', 'trust', 'roots'), { recursive: true, force: true });
    await makeOutdated(agent, other);
    await expect(agent.restart()).rejects.toThrow('agent exited with 78');
    expect(agent.logs.join('\n')).toMatch(new RegExp(`answered root version ${rotated.version}, which does not follow from the root this node trusts \\(version 1\\)`));
    expect((await readIdentity(agent)).root).toEqual(other);
  }, 90_000);
});
