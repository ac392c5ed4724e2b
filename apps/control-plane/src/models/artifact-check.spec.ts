import { describe, expect, it } from '@jest/globals';
import type { InferenceEngine as Engine, InferenceSession } from '#inference';
import { UnprocessableError, ValidationError } from '#common';
import { checkArtifact, type UploadedArtifact } from './artifact-check.js';

const spec = { inputSpec: { name: 'input', shape: [1, 3] }, outputSpec: { name: 'out', shape: [1, 2] } };
const onnx = (fields: Partial<UploadedArtifact> = {}): UploadedArtifact => ({ path: '/nowhere', format: 'onnx', engine: 'onnxruntime', skipSelfTest: true, ...fields });

/** An engine whose model sums its inputs into two outputs (sum, -sum); records what it was given. */
function fakeEngine(behaviour: { load?: () => Promise<void>; output?: (input: Float32Array) => Float32Array } = {}) {
  const seen: { inputs: Float32Array[]; disposed: number } = { inputs: [], disposed: 0 };
  const session: InferenceSession = {
    run: async (input) => {
      seen.inputs.push(input);
      const sum = input.reduce((a, v) => a + v, 0);
      return behaviour.output ? behaviour.output(input) : Float32Array.from([sum, -sum]);
    },
    dispose: async () => {
      seen.disposed++;
    },
  };
  const engine: Engine = {
    name: 'onnxruntime',
    load: async () => {
      await behaviour.load?.();
      return session;
    },
  };
  return { engines: new Map([['onnxruntime', engine]]), seen };
}

describe('checkArtifact', () => {
  it('computes the expected output of a self-test from its preprocessed input, and disposes the session', async () => {
    const { engines, seen } = fakeEngine();
    const checked = await checkArtifact(engines, spec, onnx({ skipSelfTest: undefined, selfTest: { input: [1, 2, 3] }, preprocessing: { scale: 2 } }));
    expect(Array.from(seen.inputs[0] ?? [])).toEqual([2, 4, 6]);
    expect(checked).toEqual({ input: [1, 2, 3], expectedOutput: [12, -12], tolerance: 1e-4 });
    expect(seen.disposed).toBe(1);
  });

  it('runs an all-zero input when the self-test is skipped, and signs none', async () => {
    const { engines, seen } = fakeEngine();
    expect(await checkArtifact(engines, spec, onnx())).toBeUndefined();
    expect(Array.from(seen.inputs[0] ?? [])).toEqual([0, 0, 0]);
  });

  it.each([
    ['a wrong output count', { output: () => new Float32Array(3) }, /gives 3 output values; the declared output shape \[1,2\] holds 2/],
    ['a non-finite output', { output: () => Float32Array.from([Number.NaN, 1]) }, /non-finite/],
    ['a load failure', { load: () => Promise.reject(new Error('Protobuf parsing failed')) }, /does not load as onnx with onnxruntime: Protobuf parsing failed/],
  ])('refuses %s with 422', async (_what, behaviour, message) => {
    const { engines } = fakeEngine(behaviour);
    const refused = checkArtifact(engines, spec, onnx());
    await expect(refused).rejects.toBeInstanceOf(UnprocessableError);
    await expect(refused).rejects.toThrow(message);
  });

  it('refuses an engine that never answers once the time bound passes', async () => {
    const { engines } = fakeEngine({ load: () => new Promise<void>(() => undefined) });
    await expect(checkArtifact(engines, spec, onnx(), 20)).rejects.toThrow('did not load and run within 0.02 s');
  });

  it('refuses an expected output the model does not give, within the tolerance', async () => {
    const { engines } = fakeEngine();
    const artifact = onnx({ skipSelfTest: undefined, selfTest: { input: [1, 1, 1], expectedOutput: [3, -2.9], tolerance: 0.05 } });
    await expect(checkArtifact(engines, spec, artifact)).rejects.toThrow(/differs by 0\.1/);
    expect(await checkArtifact(engines, spec, { ...artifact, selfTest: { input: [1, 1, 1], expectedOutput: [3, -2.98], tolerance: 0.05 } })).toMatchObject({ expectedOutput: [3, -2.98] });
  });

  it('refuses inconsistent fields (400) and undeclared or oversized shapes (422) before loading anything', async () => {
    const { engines, seen } = fakeEngine();
    await expect(checkArtifact(engines, spec, onnx({ engine: 'tfjs' }))).rejects.toBeInstanceOf(ValidationError);
    await expect(checkArtifact(engines, spec, onnx({ skipSelfTest: undefined }))).rejects.toBeInstanceOf(ValidationError);
    await expect(checkArtifact(engines, spec, onnx({ selfTest: { input: [1, 2, 3] } }))).rejects.toBeInstanceOf(ValidationError);
    await expect(checkArtifact(engines, { ...spec, inputSpec: { shape: [1, -1] } }, onnx())).rejects.toThrow(/inputSpec\.shape must be/);
    await expect(checkArtifact(engines, { ...spec, inputSpec: { shape: [10_000, 10_000] } }, onnx())).rejects.toThrow(/at most 4000000/);
    expect(seen.inputs).toEqual([]);
  });
});
