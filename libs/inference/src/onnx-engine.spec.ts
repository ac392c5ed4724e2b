import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { denseSoftmaxModel } from '../../../test/helpers/onnx-model.js';
import { OnnxEngine } from './onnx-engine.js';

describe('OnnxEngine', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ef-onnx-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs a real ONNX model and matches the JS reference', async () => {
    const model = denseSoftmaxModel(7);
    const path = join(dir, 'model.onnx');
    await writeFile(path, model.bytes);
    const session = await new OnnxEngine().load(path, { engine: 'onnxruntime', format: 'onnx', inputShape: [1, model.inputs] });
    const x = Float32Array.from({ length: model.inputs }, (_, i) => i / model.inputs);
    const y = await session.run(x);
    const expected = model.reference(x);
    expect(y).toHaveLength(model.classes);
    y.forEach((v, i) => expect(Math.abs(v - (expected[i] as number))).toBeLessThan(1e-5));
    await session.dispose();
  });
});
