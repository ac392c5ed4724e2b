import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { hashSecret } from '#common';
import { generateSigningKey, signEnrolmentProof } from '#trust';
import { bearer, createEnrollmentToken, hardware, startTestApp, type TestApp } from '../helpers/test-app.js';

describe('node enrolment', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const enroll = (token: string, nodeKey: string, extra: Record<string, unknown> = {}) =>
    t.http().post('/v1/enroll').send({ token, nodeKey, hardware, ...extra });

  it('exchanges a valid token and a hardware profile for a node id and a secret stored hashed only', async () => {
    const { token } = await createEnrollmentToken(t, { labels: { site: 'lyon' } });
    const res = await enroll(token, 'node-key-valid-0001', { name: 'cam-1' }).expect(200);
    expect(res.body).toMatchObject({ nodeId: expect.any(String), nodeSecret: expect.stringMatching(/^efn_/), labels: { site: 'lyon' } });

    const [row] = (await t.db.query('SELECT secret_hash, hardware, status, name FROM nodes WHERE id = $1', [res.body.nodeId])) as {
      secret_hash: string;
      hardware: unknown;
      status: string;
      name: string;
    }[];
    expect(row).toMatchObject({ secret_hash: hashSecret(res.body.nodeSecret), hardware, status: 'offline', name: 'cam-1' });
    const dump = JSON.stringify(await t.db.query('SELECT * FROM nodes'));
    expect(dump).not.toContain(res.body.nodeSecret);
  });

  it('refuses an expired token', async () => {
    const { id, token } = await createEnrollmentToken(t);
    await t.db.query(`UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    const res = await enroll(token, 'node-key-expired-01').expect(403);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.detail).toBe('enrolment token has expired');
  });

  it('refuses an exhausted token', async () => {
    const { token } = await createEnrollmentToken(t, { maxUses: 2 });
    await enroll(token, 'node-key-exhaust-01').expect(200);
    await enroll(token, 'node-key-exhaust-02').expect(200);
    const res = await enroll(token, 'node-key-exhaust-03').expect(403);
    expect(res.body.detail).toBe('enrolment token has no uses left');
  });

  it('never over-spends a token under concurrent enrolments', async () => {
    const { id, token } = await createEnrollmentToken(t, { maxUses: 5 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => enroll(token, `node-key-race-${String(i).padStart(4, '0')}`)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(5);
    expect(results.filter((r) => r.status === 403)).toHaveLength(7);
    const [row] = (await t.db.query('SELECT uses FROM enrollment_tokens WHERE id = $1', [id])) as { uses: number }[];
    expect(row?.uses).toBe(5);
  });

  it('treats a retried enrolment (the node never saw the answer) as the same node when it proves its key, rotating its secret without spending a use', async () => {
    const { id, token } = await createEnrollmentToken(t, { maxUses: 1 });
    const key = generateSigningKey();
    const nodeKey = 'node-key-retry-0001';
    const first = await enroll(token, nodeKey, { publicKey: key.publicKey }).expect(200);
    const { nonce } = (await t.http().post('/v1/enroll/challenge').send({ nodeKey }).expect(200)).body as { nonce: string };
    const proof = { nonce, signature: signEnrolmentProof(key.privateKey, { nonce, nodeKey, publicKey: key.publicKey }) };
    const retry = await enroll(token, nodeKey, { publicKey: key.publicKey, proof }).expect(200);
    expect(retry.body.nodeId).toBe(first.body.nodeId);
    expect(retry.body.nodeSecret).not.toBe(first.body.nodeSecret);
    const [token_] = (await t.db.query('SELECT uses FROM enrollment_tokens WHERE id = $1', [id])) as { uses: number }[];
    expect(token_?.uses).toBe(1);
    const [node] = (await t.db.query('SELECT secret_hash FROM nodes WHERE id = $1', [first.body.nodeId])) as { secret_hash: string }[];
    expect(node?.secret_hash).toBe(hashSecret(retry.body.nodeSecret));
  });

  it('refuses a node key already enrolled, with its own token or another, without a proof (401)', async () => {
    const a = await createEnrollmentToken(t);
    const b = await createEnrollmentToken(t);
    await enroll(a.token, 'node-key-taken-0001').expect(200);
    await enroll(a.token, 'node-key-taken-0001').expect(401);
    await enroll(b.token, 'node-key-taken-0001').expect(401);
  });

  it('refuses unknown and revoked tokens', async () => {
    await enroll('eft_not-a-real-token', 'node-key-unknown-01').expect(401);
    const { id, token } = await createEnrollmentToken(t);
    await t.http().delete(`/v1/enrollment-tokens/${id}`).set(bearer(t.adminKey)).expect(204);
    await enroll(token, 'node-key-revoked-01').expect(401);
  });

  it('refuses to re-enrol a decommissioned node', async () => {
    const { token } = await createEnrollmentToken(t);
    const { body } = await enroll(token, 'node-key-decom-0001').expect(200);
    await t.http().post(`/v1/nodes/${body.nodeId}/decommission`).set(bearer(t.adminKey)).expect(200);
    const res = await enroll(token, 'node-key-decom-0001').expect(403);
    expect(res.body.detail).toContain('decommissioned');
  });

  it('validates the hardware profile', async () => {
    const { token } = await createEnrollmentToken(t);
    const res = await enroll(token, 'node-key-badhw-0001', { hardware: { ...hardware, cpuCores: 'four', gpu: true } }).expect(400);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'hardware.cpuCores' }),
        expect.objectContaining({ field: 'hardware.gpu', message: 'property gpu should not exist' }),
      ]),
    );
  });
});
