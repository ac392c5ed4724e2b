import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { postJson, ResponseTooLargeError } from './post-json.js';

describe('postJson bounds the answer it reads', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const s = server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  /** A server answering `bytes` bytes of a JSON string. */
  const serve = async (bytes: number) => {
    const s = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify('x'.repeat(bytes - 2)));
      });
    });
    server = s;
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
    const address = s.address();
    return new URL(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/enroll`);
  };

  it('parses an answer within the bound', async () => {
    const answer = await postJson(await serve(1000), {}, 5000, 1000);
    expect(answer).toMatchObject({ status: 200, ok: true });
    expect(answer.json).toHaveLength(998);
  });

  it('refuses an answer over the bound with a typed error', async () => {
    await expect(postJson(await serve(4 * 1024 * 1024), {}, 5000, 1024 * 1024)).rejects.toBeInstanceOf(ResponseTooLargeError);
  });
});
