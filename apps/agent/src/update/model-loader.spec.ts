import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxEngine, SessionHolder } from '#inference';
import { denseSoftmaxModel } from '../../../../test/helpers/onnx-model.js';
import type { ModelManifest } from '#trust';
import type { TrustSource } from '../state/trusted-root.js';
import { SlotStore } from '../state/slots.js';
import { ModelLoader } from './model-loader.js';
import { StepFailure } from './step-failure.js';

const manifest: ModelManifest = {
  type: 'model-manifest', name: 'm', version: '1.0.0', sequence: 1, variant: 'fp32', format: 'onnx', engine: 'onnxruntime', sha256: 'a'.repeat(64), size: 10,
  inputSpec: { name: 'input', shape: [1, 4] }, outputSpec: { name: 'probabilities' }, preprocessing: {}, labels: [],
  selfTest: { input: [], expectedOutput: [], tolerance: 0 }, created: '2026-12-01T00:00:00Z', expires: '2027-12-01T00:00:00Z',
};
const trust: TrustSource = {
  current: { type: 'root', version: 1, expires: '2027-12-01T00:00:00Z', keys: {}, roles: { root: { keyIds: [], threshold: 1 }, release: { keyIds: [], threshold: 1 } }, revokedKeyIds: [] },
  expired: false,
  verifyInstalled: () => undefined,
};

describe('ModelLoader', () => {
  let dir: string;
  let slots: SlotStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-loader-'));
    slots = new SlotStore(dir);
    await mkdir(join(dir, 'slots', 'a'), { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const loader = () => new ModelLoader(trust, slots, new SessionHolder(), new Map([['onnxruntime', new OnnxEngine()]]));

  const CASES: [string, Partial<ModelManifest>, string, RegExp, boolean][] = [
    ['bytes the engine cannot parse', {}, 'model-load-failed', /onnxruntime could not load the onnx model: .+/, true],
    ['an engine this agent lacks', { engine: 'tensorrt' }, 'unsupported-engine', /no engine 'tensorrt'/, false],
    ['preprocessing it cannot apply', { preprocessing: { layout: 'NCDHW' } }, 'unsupported-engine', /unsupported preprocessing/, true],
  ];

  const sha256 = (bytes: string | Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const README = 'this is a README, not a model';

  it.each(CASES)('refuses %s with its own reason and a detail', async (_, overrides, reason, detail, hasCause) => {
    await writeFile(slots.modelPath('a'), README);
    const error = await loader().loadSession('a', { ...manifest, sha256: sha256(README), ...overrides }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).reason).toBe(reason);
    expect((error as StepFailure).message).toMatch(detail);
    expect((error as StepFailure).cause !== undefined).toBe(hasCause);
  });

  it('refuses a slot whose bytes are not the signed ones before any engine sees them', async () => {
    await writeFile(slots.modelPath('a'), README);
    const error = await loader().loadSession('a', manifest).then(() => undefined, (e: unknown) => e);
    expect((error as StepFailure).reason).toBe('hash-mismatch');
    expect((error as StepFailure).message).toContain(sha256(README));
  });

  it('loads the bytes it hashed and says which (what the node attests)', async () => {
    const model = denseSoftmaxModel(3);
    await writeFile(slots.modelPath('a'), model.bytes);
    const session = await loader().loadSession('a', { ...manifest, sha256: sha256(model.bytes), inputSpec: { shape: [1, model.inputs] }, outputSpec: {} });
    expect(session.loadedSha256).toBe(sha256(model.bytes));
    expect(await session.run(new Float32Array(model.inputs))).toHaveLength(model.classes);
    await session.dispose();
  });

  it('says whether a slot still holds the bytes of a digest', async () => {
    await writeFile(slots.modelPath('a'), 'abc');
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(await loader().slotHolds('a', abc)).toBe(true);
    expect(await loader().slotHolds('a', 'b'.repeat(64))).toBe(false);
    expect(await loader().slotHolds('b', abc)).toBe(false); // no file at all
  });
});
