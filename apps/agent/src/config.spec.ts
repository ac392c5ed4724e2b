import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from './config.js';

/** The local API's listener and token keys, validated once at start (the config is a file, so this reads one). */
describe('agent config: the local API keys', () => {
  let dir: string;
  const load = async (extra: Record<string, unknown>) => {
    const path = join(dir, `agent-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, JSON.stringify({ controlPlaneUrl: 'http://127.0.0.1:3000', stateDir: dir, ...extra }));
    return loadAgentConfig(path);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-agent-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('defaults to TCP on 8421 without a token or socket', async () => {
    expect(await load({})).toMatchObject({ apiPort: 8421 });
    const c = await load({});
    expect(c.localApiSocket).toBeUndefined();
    expect(c.localApiTokenFile).toBeUndefined();
  });

  it('takes ONNX Runtime settings within bounds and refuses others', async () => {
    expect((await load({ onnx: { threads: 4, spinning: true } })).onnx).toEqual({ threads: 4, spinning: true });
    await expect(load({ onnx: { threads: 0 } })).rejects.toThrow(/onnx/);
    await expect(load({ onnx: { threads: 2, cores: 3 } })).rejects.toThrow(/onnx/);
  });

  it('reads octal modes and resolves paths', async () => {
    const c = await load({ apiPort: null, localApiSocket: 'run/api.sock', localApiSocketMode: '0600', localApiTokenFile: 'run/token', localApiTokenFileMode: '640' });
    expect(c).toMatchObject({ apiPort: null, localApiSocketMode: 0o600, localApiTokenFileMode: 0o640 });
    expect(c.localApiSocket).toBe(join(process.cwd(), 'run/api.sock'));
    expect(c.localApiTokenFile).toBe(join(process.cwd(), 'run/token'));
  });

  it.each([
    ['no listener at all', { apiPort: null }, /apiPort: null needs localApiSocket/],
    ['a token file others can read', { localApiTokenFile: '/run/t', localApiTokenFileMode: '0644' }, /localApiTokenFileMode: must not give other users access/],
    ['a mode that is not octal', { localApiSocket: '/run/s', localApiSocketMode: '0680' }, /localApiSocketMode: an octal file mode/],
    ['a numeric mode (JSON has no octal)', { localApiSocket: '/run/s', localApiSocketMode: 432 }, /localApiSocketMode/],
    ['a socket path too long for sun_path', { localApiSocket: `/run/${'x'.repeat(120)}` }, /longer than a Unix socket path can be/],
  ])('refuses %s', async (_what, extra, message) => {
    await expect(load(extra)).rejects.toThrow(message);
  });
});
