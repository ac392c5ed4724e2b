import { type InferenceEngine, type InferenceSession, InputSizeError, inputSizeOf, type ModelSource, type ModelSpec } from './engine.js';

type OrtModule = typeof import('onnxruntime-node');

let loading: Promise<OrtModule> | undefined;

/**
 * Loaded on first use only: an agent serving a TFLite or TensorFlow.js model does not map ONNX Runtime's
 * native library (≈ 5 MB resident just loaded, ≈ 23 MB once a session runs) nor start its threads.
 */
function onnxRuntime(): Promise<OrtModule> {
  const ort = (loading ??= import('onnxruntime-node').then((module): OrtModule => module.default));
  ort.catch(() => (loading = undefined));
  return ort;
}

/** How ONNX Runtime may use the CPU. */
export interface OnnxOptions {
  /** Threads one run may use (intra-op); default 1. */
  readonly threads?: number;
  /** Whether idle intra-op threads busy-wait for the next run; default false. */
  readonly spinning?: boolean;
}

/**
 * ONNX Runtime's own settings as one object, shared with bench/raw-infer-server.ts so both run the engine alike.
 * The defaults are for a device that runs other work too, serving small models: ONNX Runtime's own default
 * (a thread per core, busy-waiting between runs) cost the seed CNN 2.3× the CPU per run and 2.8× the
 * latency of one thread here; the agent gets its parallelism from concurrent runs (`inferConcurrentRuns`).
 */
export function onnxSessionOptions(options: OnnxOptions = {}) {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads ?? 1,
    extra: { session: { intra_op: { allow_spinning: options.spinning === true ? '1' : '0' } } },
  } as const;
}

/** ONNX Runtime (CPU), the default engine. */
export class OnnxEngine implements InferenceEngine {
  readonly name = 'onnxruntime';

  constructor(private readonly settings: OnnxOptions = {}) {}

  async load(model: ModelSource, spec: ModelSpec): Promise<InferenceSession> {
    const ort = await onnxRuntime();
    const options = onnxSessionOptions(this.settings);
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
    const inputName = spec.inputName ?? session.inputNames[0];
    const outputName = spec.outputName ?? session.outputNames[0];
    if (!inputName || !outputName) throw new Error('the model has no input or output');
    const shape = [...spec.inputShape];
    const expected = inputSizeOf(shape);
    return {
      // `then` rather than async/await: one promise and microtask turn fewer on every request.
      run(input: Float32Array): Promise<Float32Array> {
        if (input.length !== expected) return Promise.reject(new InputSizeError(expected, input.length));
        return session.run({ [inputName]: new ort.Tensor('float32', input, shape) }).then((results) => {
          const output = results[outputName];
          if (!output) throw new Error(`the model produced no '${outputName}'`);
          return output.data as Float32Array;
        });
      },
      dispose: () => session.release(),
    };
  }
}
