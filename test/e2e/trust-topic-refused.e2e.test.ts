import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { fleetTopics } from '#protocol';
import { DynsecClient } from '../../apps/control-plane/src/broker/dynsec.client.js';
import { MqttConnection } from '../../apps/control-plane/src/messaging/mqtt-connection.js';
import { AgentProcess, waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { bearer, createEnrollmentToken, startTestApp, type TestApp } from '../helpers/test-app.js';
import { startTestBroker, type TestBroker } from '../helpers/test-broker.js';

const INPUTS = 8;
const golden = Array.from({ length: INPUTS }, (_, i) => (i % 3) / 3);

describe('a node whose broker role predates the trust topic', () => {
  let broker: TestBroker;
  let t: TestApp;
  let agent: AgentProcess;
  const cp = { username: 'edgefleet-cp', password: randomBytes(16).toString('hex') };

  beforeAll(async () => {
    broker = await startTestBroker({ dynsec: cp });
    t = await startTestApp({ MQTT_URL: broker.url, MQTT_USERNAME: cp.username, MQTT_PASSWORD: cp.password, MQTT_DYNSEC: 'true' });
    await createModel(t, 'digits', INPUTS, 4);
    const { token } = await createEnrollmentToken(t, { labels: { fleet: 'old-role' } });
    agent = await AgentProcess.start({ controlPlaneUrl: t.url, enrollmentToken: token, name: 'old-role' });
  }, 60_000);

  afterAll(async () => {
    await agent?.remove();
    await t?.close();
    await broker?.stop();
  });

  it('still gets and commits its desired state when the broker refuses the trust root subscription, and says so', async () => {
    // The role as enrolment made it before this version: no ACL for the trust roots.
    await new DynsecClient(t.app.get(MqttConnection)).execute([
      { command: 'removeRoleACL', rolename: `node-${agent.nodeId}`, acltype: 'subscribeLiteral', topic: fleetTopics(t.config.mqtt.fleetNamespace).allTrustRoots },
    ]);
    await agent.stop();
    const before = agent.logs.length;
    await agent.restart();

    const model = denseSoftmaxModel(1, INPUTS);
    const version = await uploadVersion(t, 'digits', { version: '1.0.0', selfTest: { input: golden } }, model.bytes);
    const deployment = await deploy(t, version.id, { nodeIds: [agent.nodeId] });
    const states = await waitFor(
      async () => {
        await agent.infer(golden); // feeds the soak once the model serves
        return ((await t.http().get(`/v1/deployments/${deployment.id}`).set(bearer(t.adminKey)).expect(200)).body.targets as { state: string | null }[]).map((x) => x.state);
      },
      (s) => s.every((x) => x === 'committed'),
      60_000,
      'committed',
    );
    expect(states).toEqual(['committed']);
    expect(agent.logs.slice(before).some((l) => l.includes('the broker refused the trust root topic'))).toBe(true);
  }, 120_000);
});
