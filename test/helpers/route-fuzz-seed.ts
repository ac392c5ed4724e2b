import { randomBytes } from 'node:crypto';
import { createModel, deploy, enrolNodes, startRollout, uploadVersion } from './fleet.js';
import { denseSoftmaxModel } from './onnx-model.js';
import type { FuzzContext } from './route-fuzz.js';
import { bearer, createEnrollmentToken, type TestApp } from './test-app.js';

/**
 * Objects for the route fuzzer to aim at, in several states: a model with a version, nodes (one with a
 * deployment), rollouts draft, running and aborted, an API key and an enrolment token it may revoke.
 */
export async function seedFuzzState(t: TestApp, suffix = 'a'): Promise<FuzzContext> {
  const model = `fuzz-model-${suffix}`;
  const label = `fuzz-${suffix}`;
  await createModel(t, model, 4, 2);
  const version = await uploadVersion(t, model, { version: '1.0.0' }, denseSoftmaxModel(1, 4, 2).bytes);
  const [deployed, other] = await enrolNodes(t, 2, { fuzz: label });
  if (!deployed || !other) throw new Error('enrolment gave no node ids');
  const deployment = await deploy(t, version.id, { nodeIds: [deployed] });
  const draft = await startRollout(t, { modelVersionId: version.id, selector: `fuzz=${label}` }, false);
  const running = await startRollout(t, { modelVersionId: version.id, selector: `fuzz=${label}` });
  const aborted = await startRollout(t, { modelVersionId: version.id, selector: `fuzz=${label}` });
  await t.http().post(`/v1/rollouts/${aborted}/abort`).set(bearer(t.adminKey)).send({ reason: 'fuzz' }).expect(200);
  const apiKey = await t.http().post('/v1/api-keys').set(bearer(t.adminKey)).send({ name: 'fuzz-victim', role: 'viewer' }).expect(201);
  const token = await createEnrollmentToken(t, { maxUses: 1000 });
  const viewer = await t.http().post('/v1/api-keys').set(bearer(t.adminKey)).send({ name: `fuzz-viewer-${suffix}`, role: 'viewer' }).expect(201);
  return {
    authorization: `Bearer ${t.adminKey}`,
    viewerAuthorization: `Bearer ${(viewer.body as { key: string }).key}`,
    artifact: denseSoftmaxModel(2, 4, 2).bytes,
    pathValues: {
      name: [model],
      version: ['1.0.0'],
      sha256: [version.sha256],
      nodes: [deployed, other],
      deployments: [deployment.id],
      rollouts: [draft, running, aborted],
      'api-keys': [(apiKey.body as { id: string }).id],
      'enrollment-tokens': [token.id],
    },
    fieldValues: {
      name: `fuzz-extra-${suffix}`,
      modelVersionId: version.id,
      nodeIds: [deployed],
      selector: `fuzz=${label}`,
      '/v1/deployments#selector': undefined,
      variants: undefined,
      token: token.token,
      nodeKey: `fuzz-${randomBytes(6).toString('hex')}`,
      at: undefined,
      '/v1/models/{name}/versions#version': '1.5.0',
      '/v1/models/{name}/versions#selfTest': undefined,
      '/v1/models/{name}/versions#skipSelfTest': true,
    },
  };
}
