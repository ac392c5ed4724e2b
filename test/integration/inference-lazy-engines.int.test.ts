import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { denseSoftmaxModel } from '../helpers/onnx-model.js';

const INFERENCE = resolve('dist/libs/inference/src/index.js');

/**
 * Runs `body` in a fresh node process that has imported the built #inference, then reports which engines
 * are resident: ONNX Runtime's native library mapped, TensorFlow.js in the module cache, LiteRT's worker
 * shim installed (it is set up only when LiteRT loads).
 */
async function engineState(body: string): Promise<{ result: unknown; onnxruntime: boolean; tfjs: boolean; litert: boolean }> {
  const script = `
    import { readFileSync } from 'node:fs';
    import { createRequire } from 'node:module';
    const inference = await import(${JSON.stringify(INFERENCE)});
    const result = await (async () => { ${body} })();
    const cache = Object.keys(createRequire(${JSON.stringify(INFERENCE)}).cache);
    console.log(JSON.stringify({
      result,
      onnxruntime: readFileSync('/proc/self/maps', 'utf8').includes('libonnxruntime'),
      tfjs: cache.some((k) => k.includes('@tensorflow')),
      litert: typeof globalThis.importScripts === 'function',
    }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' } });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { result: unknown; onnxruntime: boolean; tfjs: boolean; litert: boolean };
}

describe('#inference loads an engine only when a model needs it', () => {
  it('names every engine (what enrolment reports) without loading any of them', async () => {
    const state = await engineState('return { names: inference.engineNames(), created: [...inference.createEngines().keys()] };');
    expect(state.result).toEqual({ names: ['onnxruntime', 'litert', 'tfjs'], created: ['onnxruntime', 'litert', 'tfjs'] });
    expect({ onnxruntime: state.onnxruntime, tfjs: state.tfjs, litert: state.litert }).toEqual({ onnxruntime: false, tfjs: false, litert: false });
  });

  it('loads ONNX Runtime, and only it, for an ONNX model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ef-lazy-'));
    try {
      const model = denseSoftmaxModel(3, 8, 2);
      const path = join(dir, 'm.onnx');
      await writeFile(path, model.bytes);
      const state = await engineState(`
        const session = await inference.createEngines().get('onnxruntime').load(${JSON.stringify(path)}, { engine: 'onnxruntime', format: 'onnx', inputShape: [1, 8] });
        return Array.from(await session.run(new Float32Array(8))).length;`);
      expect(state).toEqual({ result: 2, onnxruntime: true, tfjs: false, litert: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
