import type * as Tf from '@tensorflow/tfjs';
import { type InferenceEngine, type InferenceSession, InputSizeError, inputSizeOf, modelBytes, type ModelSource, type ModelSpec } from './engine.js';

type TfModule = typeof Tf;

/**
 * A TensorFlow.js layers model shipped as one file (the artifact is one blob with one digest):
 * `{"format":"edgefleet-tfjs-v1","modelTopology":…,"weightSpecs":[…],"weightData":"<base64>"}`,
 * i.e. what `model.save(tf.io.withSaveHandler(…))` produces, with the weights inlined.
 */
export interface TfjsBundle {
  readonly format: 'edgefleet-tfjs-v1';
  readonly modelTopology: object;
  readonly weightSpecs: Tf.io.WeightsManifestEntry[];
  readonly weightData: string;
}

let loading: Promise<TfModule> | undefined;

/** Loaded on first use only: an agent that never runs a TensorFlow.js model does not pay its memory. */
function tensorflow(): Promise<TfModule> {
  loading ??= import('@tensorflow/tfjs').then(async (tf) => {
    tf.enableProdMode(); // no debug checks, no console advice about tfjs-node
    await tf.setBackend('cpu');
    return tf;
  });
  return loading;
}

/** TensorFlow.js on its pure-JS CPU backend (tfjs-node needs a native download at install). */
export class TfjsEngine implements InferenceEngine {
  readonly name = 'tfjs';

  async load(source: ModelSource, spec: ModelSpec): Promise<InferenceSession> {
    const tf = await tensorflow();
    const bundle = JSON.parse(Buffer.from(await modelBytes(source)).toString('utf8')) as TfjsBundle;
    if (bundle.format !== 'edgefleet-tfjs-v1') throw new Error('not an EdgeFleet TensorFlow.js bundle');
    const weights = Buffer.from(bundle.weightData, 'base64');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: bundle.modelTopology,
        weightSpecs: bundle.weightSpecs,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    const shape = [...spec.inputShape];
    const expected = inputSizeOf(shape);
    return {
      async run(input: Float32Array): Promise<Float32Array> {
        if (input.length !== expected) throw new InputSizeError(expected, input.length);
        const output = tf.tidy(() => model.predict(tf.tensor(input, shape)) as Tf.Tensor);
        try {
          return Float32Array.from(await output.data());
        } finally {
          output.dispose();
        }
      },
      dispose: async () => {
        model.dispose();
      },
    };
  }
}

/** Serialises a layers model into the single-file bundle the engine loads (on whatever backend it lives). */
export async function toTfjsBundle(model: Tf.LayersModel): Promise<Buffer> {
  const tf = await import('@tensorflow/tfjs');
  let saved: Tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  if (!saved?.modelTopology || !saved.weightSpecs || !saved.weightData) throw new Error('the model did not serialise');
  const data = saved.weightData instanceof ArrayBuffer ? Buffer.from(saved.weightData) : Buffer.concat(saved.weightData.map((b) => Buffer.from(b)));
  const bundle: TfjsBundle = { format: 'edgefleet-tfjs-v1', modelTopology: saved.modelTopology, weightSpecs: saved.weightSpecs, weightData: data.toString('base64') };
  return Buffer.from(JSON.stringify(bundle));
}
