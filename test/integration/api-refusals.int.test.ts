import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, deploy, enrolNodes, startRollout, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { multipartBody, rawRequest, rawSocket } from '../helpers/raw-http.js';
import { bearer, startTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Requests that used to answer 500 or take the process down (issue 10, trap 8), and the version delete
 * guards: each must now be a 4xx problem+json, and the app must keep serving.
 */
describe('bad requests are refused with 4xx problem+json, never a 500 or a crash', () => {
  let t: TestApp;
  const auth = () => bearer(t.adminKey);
  const expectProblem = (res: { status: number; headers: Record<string, string>; body: { status?: number } }, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(status);
  };
  const tempFiles = () => readdir(join(t.config.artifacts.dir, 'tmp')).catch(() => [] as string[]);

  beforeAll(async () => {
    t = await startTestApp();
    await createModel(t, 'robust', 4, 2);
  });
  afterAll(() => t.close());

  it('refuses a multipart upload cut before its closing boundary, and stays up', async () => {
    const boundary = 'cut-boundary';
    const body = multipartBody(boundary, { version: '3.0.0', variant: 'fp32', format: 'onnx', engine: 'onnxruntime' }, { name: 'artifact', bytes: Buffer.alloc(2048, 7) }, true);
    const headers = { ...auth(), 'content-type': `multipart/form-data; boundary=${boundary}` };
    const answer = await rawRequest(t.url, { method: 'POST', path: '/v1/models/robust/versions', headers, body });
    expect(answer?.status).toBe(400);
    expect(answer?.contentType).toMatch(/^application\/problem\+json/);

    // The client goes away mid-file: no answer can reach it, but the process must live and clean up.
    await rawRequest(t.url, { method: 'POST', path: '/v1/models/robust/versions', headers: { ...headers, 'content-length': String(body.length + 4096) }, body, cut: true });
    await t.http().get('/v1/models').set(auth()).expect(200);
    await waitFor(tempFiles, (files) => files.length === 0, 10_000, 'the cut uploads to leave no temporary file');
  });

  it('answers what the HTTP parser refuses (a malformed request line, headers over the limit) as problem+json', async () => {
    const malformed = await rawSocket(t.url, 'NOT AN HTTP REQUEST\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
    expect(malformed).toMatch(/content-type: application\/problem\+json/i);
    const huge = await rawSocket(t.url, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Pad: ${'x'.repeat(64 * 1024)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge).toMatch(/"status":431/);
    await t.http().get('/v1/models').set(auth()).expect(200);
  });

  it('refuses multipart/form-data without a boundary', async () => {
    const res = await t.http().post('/v1/models/robust/versions').set(auth()).set('content-type', 'multipart/form-data').send('--x\r\n');
    expectProblem(res, 400);
  });

  it.each([
    ['an object', `{"name":"deep","task":"t","inputSpec":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)},"outputSpec":{}}`],
    ['an array', `${'['.repeat(5000)}${']'.repeat(5000)}`],
  ])('refuses JSON nested thousands deep (%s) on every JSON route', async (_shape, deep) => {
    for (const path of ['/v1/models', '/v1/rollouts', '/v1/deployments', '/v1/api-keys']) {
      const res = await t.http().post(path).set(auth()).set('content-type', 'application/json').send(deep);
      expectProblem(res, 400);
      expect(res.body.detail).toMatch(/deeper than/);
    }
  });

  it('refuses NUL in path parameters, query values and JSON strings', async () => {
    for (const path of ['/v1/models/a%00b', '/v1/models/robust/versions/1.0.0%00', '/v1/audit-events?targetType=%00']) {
      expectProblem(await t.http().get(path).set(auth()), 400);
    }
    const res = await t.http().post('/v1/models').set(auth()).send({ name: 'nul', task: 't', description: 'a\u0000b', inputSpec: {}, outputSpec: {} });
    expectProblem(res, 400);
  });

  it('refuses an out-of-range cursor', async () => {
    expectProblem(await t.http().get('/v1/audit-events?before=99999999999999999999999').set(auth()), 400);
    await t.http().get('/v1/audit-events?before=999999999999999999').set(auth()).expect(200);
  });

  it('refuses a version the semver library cannot parse, so listing the versions keeps working', async () => {
    await uploadVersion(t, 'robust', { version: '1.0.0' }, denseSoftmaxModel(1, 4, 2).bytes);
    for (const version of ['99999999999999999999.0.0', 'v1.0.1', '1.0.9007199254740992']) {
      const res = await t
        .http()
        .post('/v1/models/robust/versions')
        .set(auth())
        .field('version', version)
        .field('variant', 'fp32')
        .field('format', 'onnx')
        .field('engine', 'onnxruntime')
        .attach('artifact', Buffer.from('two'), 'model.bin');
      expectProblem(res, 400);
    }
    await uploadVersion(t, 'robust', { version: '1.1.0' }, denseSoftmaxModel(3, 4, 2).bytes);
    const list = await t.http().get('/v1/models/robust/versions').set(auth()).expect(200);
    expect((list.body as { version: string }[]).map((v) => v.version)).toEqual(['1.1.0', '1.0.0']);
  });

  it('refuses with 409 to delete a version that has deployment history, saying why', async () => {
    const v = await uploadVersion(t, 'robust', { version: '2.0.0' }, denseSoftmaxModel(4, 4, 2).bytes);
    const [node] = await enrolNodes(t, 1);
    await deploy(t, v.id, { nodeIds: [node ?? ''] });
    const res = await t.http().delete('/v1/models/robust/versions/2.0.0').set(auth());
    expectProblem(res, 409);
    expect(res.body).toMatchObject({ detail: expect.stringContaining('deployment history') });
  });

  it('refuses with 409 to delete a version a draft rollout names, so the draft stays startable', async () => {
    await createModel(t, 'drafted', 4, 2);
    const v = await uploadVersion(t, 'drafted', { version: '1.0.0' }, denseSoftmaxModel(5, 4, 2).bytes);
    await enrolNodes(t, 1, { ring: 'drafted' });
    const rollout = await startRollout(t, { modelVersionId: v.id, selector: 'ring=drafted' }, false);
    const res = await t.http().delete('/v1/models/drafted/versions/1.0.0').set(auth());
    expectProblem(res, 409);
    expect(res.body).toMatchObject({ detail: expect.stringContaining("'test rollout' (draft)") });
    await t.http().post(`/v1/rollouts/${rollout}/start`).set(auth()).send({}).expect(200);

    // Once the rollout has finished, its targets are history: still refused, now for that reason.
    await t.http().post(`/v1/rollouts/${rollout}/abort`).set(auth()).send({}).expect(200);
    const after = await t.http().delete('/v1/models/drafted/versions/1.0.0').set(auth());
    expectProblem(after, 409);
    expect(after.body).toMatchObject({ detail: expect.stringContaining('deployment history') });
  });
});
