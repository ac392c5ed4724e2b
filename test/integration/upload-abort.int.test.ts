import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from '../helpers/agent-process.js';
import { createModel, uploadVersion } from '../helpers/fleet.js';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';
import { cutUpload as cutUploadAt, multipartBody } from '../helpers/raw-http.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { FsArtifactStore } from '../../apps/control-plane/src/artifacts/fs-artifact-store.js';
import { receiveUpload } from '../../apps/control-plane/src/artifacts/multipart-upload.js';

const BOUNDARY = 'abort-boundary';
const FIELDS = { version: '9.9.9', variant: 'fp32', format: 'onnx', engine: 'onnxruntime', skipSelfTest: 'true' };
const FILE_BYTES = 4 * 1024 * 1024;

/**
 * Clients that go away mid-upload (issue 11, hole 7): whatever point the body is cut at, the control
 * plane keeps no temporary file and no open file descriptor into its artifact store's temp directory,
 * and the next good upload works. The app runs in this jest process, so /proc/self/fd is its table.
 */
describe('aborted uploads leave no temporary file and no open file descriptor', () => {
  let t: TestApp;
  const tmpDir = () => join(t.config.artifacts.dir, 'tmp');
  const tempFiles = () => readdir(tmpDir()).catch(() => [] as string[]);
  const openTempFds = async () => {
    const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return links.filter((target) => target.startsWith(`${tmpDir()}/`));
  };
  const leftovers = async () => ({ files: await tempFiles(), fds: await openTempFds() });

  /** Cuts the upload after `bytes`, once `reached` holds (the server is then done with the request). */
  const cutUpload = (bytes: Buffer, reached: () => Promise<boolean> = async () => true) =>
    cutUploadAt(
      t.url,
      {
        path: '/v1/models/abort/versions',
        headers: { Authorization: `Bearer ${t.adminKey}`, 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` },
        declaredBytes: bytes.length + FILE_BYTES,
        bytes,
      },
      reached,
      (probe) => waitFor(probe, (ok) => ok, 10_000, 'the server to reach the cut point'),
    );

  const whole = multipartBody(BOUNDARY, FIELDS, { name: 'artifact', bytes: Buffer.alloc(FILE_BYTES, 7) }, true);
  const fileStart = whole.indexOf(Buffer.from('filename="model.bin"'));
  const dataStart = whole.indexOf('\r\n\r\n', fileStart) + 4;

  beforeAll(async () => {
    t = await startTestApp();
    await createModel(t, 'abort', 4, 2);
  });
  afterAll(() => t.close());

  it.each([
    ['in the file part headers', () => whole.subarray(0, fileStart + 5), false],
    ['a quarter into the file data', () => whole.subarray(0, dataStart + FILE_BYTES / 4), true],
    ['after the file data, before the closing boundary', () => whole, true],
  ])('cut %s: no temp file, no open fd', async (_where, body, fileOpened) => {
    // Where the file part has begun, the cut comes only once the store has opened its temp file.
    await cutUpload(body(), fileOpened ? async () => (await tempFiles()).length > 0 : undefined);
    const left = await waitFor(leftovers, (l) => l.files.length === 0 && l.fds.length === 0, 10_000, 'no temp file and no open fd').catch(() => undefined);
    expect(left ?? (await leftovers())).toEqual({ files: [], fds: [] });
  });

  it('accepts a good upload after the aborted ones, and leaves nothing behind', async () => {
    const model = denseSoftmaxModel(1, 4, 2);
    const uploaded = await uploadVersion(t, 'abort', { version: '1.0.0' }, model.bytes);
    expect(uploaded.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await leftovers()).toEqual({ files: [], fds: [] });
  });
});

/**
 * The controller looks the model up before it reads the body: a client can be gone by then, and its
 * 'aborted' has fired before the receiver listens. The upload must still be refused, not left pending
 * forever with the parser and the request held.
 */
describe('an upload whose client went away before the receiver started', () => {
  let server: Server;
  let root: string;
  let received: Promise<IncomingMessage>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ef-upload-abort-'));
    received = new Promise((resolve) => {
      server = createServer((req) => req.once('close', () => resolve(req)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  it('rejects at once with a validation error', async () => {
    const { port } = server.address() as { port: number };
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    const body = multipartBody(BOUNDARY, FIELDS, { name: 'artifact', bytes: Buffer.alloc(1024, 7) }, true);
    socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${body.length + 4096}\r\n\r\n`);
    socket.end(body);
    const req = await received; // the client is gone before receiveUpload is called
    let timer: NodeJS.Timeout | undefined;
    const pending = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still pending after 5 s'), 5_000)));
    const outcome = await Promise.race([receiveUpload(req, new FsArtifactStore(root), 'artifact', FILE_BYTES).then(() => 'accepted', (error: Error) => error.message), pending]);
    clearTimeout(timer);
    expect(outcome).toBe('the upload was interrupted');
    expect(await readdir(root)).toEqual([]);
  });
});
