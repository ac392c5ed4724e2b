import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelManifest } from '#trust';
import { type SlotContent, SlotStore } from './slots.js';

describe('SlotStore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ef-slots-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const content = (sha: string): SlotContent => {
    const sha256 = sha.repeat(64);
    const signed: ModelManifest = {
      type: 'model-manifest', name: 'm', version: `${sha}.0.0`, sequence: Number(sha), variant: 'fp32', format: 'onnx', engine: 'onnxruntime', sha256, size: 3,
      inputSpec: { shape: [1, 3] }, outputSpec: {}, preprocessing: {}, labels: [], selfTest: { input: [], expectedOutput: [], tolerance: 0 },
      created: '2026-12-01T00:00:00Z', expires: '2027-12-01T00:00:00Z',
    };
    return { sha256, deploymentId: 'd', manifest: { signed, signatures: [{ keyId: 'f'.repeat(64), sig: 'c2ln' }] } };
  };

  it('stages into the inactive slot and flips the pointer only on activate', async () => {
    const slots = new SlotStore(root);
    await writeFile(join(root, 'v1'), 'one');
    await writeFile(join(root, 'v2'), 'two');
    expect(await slots.stage(join(root, 'v1'), content('1'))).toBe('a');
    expect(await slots.active()).toBeUndefined();
    await slots.activate('a');
    expect(await slots.stage(join(root, 'v2'), content('2'))).toBe('b');
    expect((await slots.active())?.slot).toBe('a'); // v1 keeps serving until the flip
    await slots.activate('b');
    expect(await slots.active()).toEqual({ slot: 'b', sha256: '2'.repeat(64) });
    expect(await readFile(slots.modelPath('a'), 'utf8')).toBe('one'); // the previous model stays for rollback
  });

  it('never activates a slot without a verified content record', async () => {
    await expect(new SlotStore(root).activate('b')).rejects.toThrow('holds no verified model');
  });
});
