import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ArtifactDownload } from './artifact-download.js';

const CHUNK = 1024;
const bytes = randomBytes(CHUNK * 5 + 100);
const layout = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, chunkSize: CHUNK, chunkCount: 6 };
const chunk = (i: number) => bytes.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, bytes.length));

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ArtifactDownload', () => {
  let dir: string;
  let requests: [number, number][][];
  let download: ArtifactDownload;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-download-'));
    requests = [];
    download = new ArtifactDownload({ stateDir: dir, stallSeconds: 0.1, repairAttempts: 3 }, async (_, missing) => void requests.push(missing), () => undefined);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes chunks that arrive while its store is still opening (none dropped), so nothing is asked again', async () => {
    const opening = download.open(layout);
    for (let i = 0; i < layout.chunkCount; i++) download.onChunk(layout.sha256, i, chunk(i)); // before the open resolves
    await opening;
    await download.receive(layout, new AbortController().signal);
    expect(requests).toEqual([]);
    expect((await readFile(await download.dataPath(layout, layout))).equals(bytes)).toBe(true);
  });

  it('removes the current download and stale ones once nothing is in flight, logging what it pruned', async () => {
    const logs: [string, Record<string, unknown> | undefined][] = [];
    const logged = new ArtifactDownload({ stateDir: dir, stallSeconds: 0.1, repairAttempts: 3 }, async () => undefined, (_level, message, fields) => void logs.push([message, fields]));
    const stale = { ...layout, sha256: 'f'.repeat(64) };
    await logged.open(stale);
    await logged.open(layout); // the current one: `stale` is left on disk, no longer open
    await logged.removeAll();
    expect(logged.openSha256).toBeUndefined();
    expect(await readdir(join(dir, 'downloads'))).toEqual([]);
    expect(logs).toEqual([['removed stale downloads', { artifacts: [stale.sha256] }]]);
  });

  it('drops chunks of an artifact it was not opened for', async () => {
    download.onChunk(layout.sha256, 0, chunk(0));
    await download.open(layout);
    for (let i = 1; i < layout.chunkCount; i++) download.onChunk(layout.sha256, i, chunk(i));
    const receiving = download.receive(layout, new AbortController().signal);
    await until(() => requests.length > 0);
    expect(requests).toEqual([[[0, 0]]]); // only the one really missed
    download.onChunk(layout.sha256, 0, chunk(0));
    await receiving;
  });

  it('asks only for the chunks really missed after a stall, then completes with the repairs', async () => {
    await download.open(layout);
    for (const i of [0, 2, 3, 5]) download.onChunk(layout.sha256, i, chunk(i));
    const receiving = download.receive(layout, new AbortController().signal);
    await until(() => requests.length > 0);
    expect(requests[0]).toEqual([[1, 1], [4, 4]]);
    download.onChunk(layout.sha256, 1, chunk(1));
    download.onChunk(layout.sha256, 4, chunk(4));
    await receiving;
    expect((await readFile(await download.dataPath(layout, layout))).equals(bytes)).toBe(true);
  });

  it('fails as stalled after the bounded number of repair requests', async () => {
    await download.open(layout);
    await expect(download.receive(layout, new AbortController().signal)).rejects.toMatchObject({ reason: 'stalled' });
    expect(requests).toHaveLength(3);
  });

  it('takes a connect from before the download for no reconnect: it waits for the broadcast, asking nothing', async () => {
    // A long stall period: only a wrongly seen "reconnect" could ask for anything here.
    download = new ArtifactDownload({ stateDir: dir, stallSeconds: 30, repairAttempts: 3 }, async (_, missing) => void requests.push(missing), () => undefined);
    download.connectionChanged(false);
    download.connectionChanged(true); // the agent connected, then the desired state came
    await download.open(layout);
    const receiving = download.receive(layout, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 50)); // the broadcast comes a little later
    for (let i = 0; i < layout.chunkCount; i++) download.onChunk(layout.sha256, i, chunk(i));
    await receiving;
    expect(requests).toEqual([]);
  });

  it('does not count stalls while the broker is away, and asks again at once with a fresh allowance on every reconnect', async () => {
    // A broker restart right after the 2nd request of each of the first two connections, from inside the
    // request itself (no race with a timer): each connection gets its own allowance of 2.
    download = new ArtifactDownload(
      { stateDir: dir, stallSeconds: 0.05, repairAttempts: 2 },
      async (_, missing) => {
        requests.push(missing);
        if (requests.length === 2 || requests.length === 4) {
          download.connectionChanged(false);
          download.connectionChanged(true);
        }
      },
      () => undefined,
    );
    await download.open(layout);
    download.connectionChanged(false);
    const receiving = download.receive(layout, new AbortController().signal);
    let failed: unknown;
    receiving.catch((error: unknown) => (failed = error));
    // Ten stall periods offline: no request and no failure (it used to fail as stalled after the third).
    await new Promise((r) => setTimeout(r, 500)); // asserting an absence needs some time to pass
    expect({ requests: requests.length, failed }).toEqual({ requests: 0, failed: undefined });
    download.connectionChanged(true);
    await until(() => requests.length >= 6 || failed !== undefined);
    expect(requests[0]).toEqual([[0, 5]]);
    // 2 + 2 + 2 requests over three connections; the third connection's allowance then runs out.
    await expect(receiving).rejects.toMatchObject({ reason: 'stalled' });
    expect(requests).toHaveLength(6);
  });

  describe('an encoded artifact', () => {
    const model = Buffer.concat([randomBytes(3000), Buffer.alloc(20_000)]);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const receiveWire = async (wire: Buffer) => {
      const wireLayout = { sha256: digest(wire), size: wire.length, chunkSize: CHUNK, chunkCount: Math.ceil(wire.length / CHUNK), decodedSize: model.length };
      await download.open(wireLayout);
      for (let i = 0; i < wireLayout.chunkCount; i++) download.onChunk(wireLayout.sha256, i, wire.subarray(i * CHUNK, (i + 1) * CHUNK));
      await download.receive(wireLayout, new AbortController().signal);
      return wireLayout;
    };

    it('is decoded after both digests verify, and staged from the decoded file', async () => {
      const wire = gzipSync(model);
      const wireLayout = await receiveWire(wire);
      const signed = { sha256: digest(model), size: model.length, encoding: { name: 'gzip', sha256: wireLayout.sha256, size: wire.length } };
      await download.verify(wireLayout, signed);
      expect((await readFile(await download.dataPath(wireLayout, signed))).equals(model)).toBe(true);
    });

    it('refuses received bytes that are not the signed encoded ones, deleting them before anything is decoded', async () => {
      const wire = gzipSync(model);
      const tampered = Buffer.from(wire);
      tampered[100] ^= 0xff;
      const wireLayout = await receiveWire(tampered); // the layout names the tampered bytes; the signature does not
      const signed = { sha256: digest(model), size: model.length, encoding: { name: 'gzip', sha256: digest(wire), size: wire.length } };
      await expect(download.verify(wireLayout, signed)).rejects.toMatchObject({ reason: 'hash-mismatch' });
      await expect(access(join(dir, 'downloads', wireLayout.sha256))).rejects.toThrow();
    });

    it('fails a signed stream that decodes past the model size as size-exceeded, leaving no decoded file', async () => {
      const bomb = gzipSync(Buffer.alloc(model.length * 100));
      const wireLayout = await receiveWire(bomb);
      const signed = { sha256: digest(model), size: model.length, encoding: { name: 'gzip', sha256: wireLayout.sha256, size: bomb.length } };
      await expect(download.verify(wireLayout, signed)).rejects.toMatchObject({ reason: 'size-exceeded' });
      await expect(access(join(dir, 'downloads', wireLayout.sha256))).rejects.toThrow();
    });
  });
});
