import ort from 'onnxruntime-node';
import type { InferenceEngine, InferenceSession, ModelSpec } from './engine.js';

/** ONNX Runtime (CPU), the default engine. */
export class OnnxEngine implements InferenceEngine {
  readonly name = 'onnxruntime';

  async load(modelPath: string, spec: ModelSpec): Promise<InferenceSession> {
    const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
    const inputName = spec.inputName ?? session.inputNames[0];
    const outputName = spec.outputName ?? session.outputNames[0];
    if (!inputName || !outputName) throw new Error('the model has no input or output');
    const shape = [...spec.inputShape];
    return {
      async run(input: Float32Array): Promise<Float32Array> {
        const feeds = { [inputName]: new ort.Tensor('float32', input, shape) };
        const results = await session.run(feeds);
        const output = results[outputName];
        if (!output) throw new Error(`the model produced no '${outputName}'`);
        return output.data as Float32Array;
      },
      dispose: () => session.release(),
    };
  }
}
