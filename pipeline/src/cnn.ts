import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { registerTrainingKernels } from './wasm-kernels.js';

export const CLASSES = 10;

/**
 * The seed's digits CNN, exactly: Conv2D(32,3×3,relu) → MaxPool(2) → Conv2D(64,3×3,relu) → MaxPool(2) →
 * Conv2D(64,3×3,relu) → Flatten → Dense(64,relu) → Dense(10,softmax), on 28×28×1 inputs. Initial weights
 * come from `seed`, so a retraining starts from the same place.
 */
export function buildCnn(seed: number): tf.Sequential {
  let n = seed;
  const init = () => tf.initializers.glorotUniform({ seed: n++ });
  return tf.sequential({
    name: 'digits_cnn',
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'conv1' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'conv2' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'conv3' }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(), name: 'dense1' }),
      tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(), name: 'dense2' }),
    ],
  });
}

let ready: Promise<void> | undefined;

/** TensorFlow.js on its WASM backend (XNNPACK, SIMD), with the gradient kernels training needs. */
export function useWasmBackend(): Promise<void> {
  ready ??= (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
    setWasmPaths(`${join(dist)}/`);
    tf.enableProdMode();
    await tf.setBackend('wasm');
    registerTrainingKernels();
  })();
  return ready;
}

/** Softmax outputs for many inputs ([n, 28, 28, 1] flattened), in batches; returns [n × 10]. */
export async function predictAll(model: tf.LayersModel, inputs: Float32Array, count: number, batch = 500): Promise<Float32Array> {
  const out = new Float32Array(count * CLASSES);
  for (let start = 0; start < count; start += batch) {
    const size = Math.min(batch, count - start);
    const y = tf.tidy(() => model.predict(tf.tensor4d(inputs.subarray(start * 784, (start + size) * 784), [size, 28, 28, 1])) as tf.Tensor);
    out.set(await y.data(), start * CLASSES);
    y.dispose();
  }
  return out;
}

/** Index of the largest of each row of `classes` values. */
export function argmaxRows(values: Float32Array, classes = CLASSES): Uint8Array {
  const out = new Uint8Array(values.length / classes);
  for (let r = 0; r < out.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if ((values[r * classes + c] as number) > (values[r * classes + best] as number)) best = c;
    out[r] = best;
  }
  return out;
}

export function accuracy(predicted: Uint8Array, labels: Uint8Array): number {
  let right = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[i]) right++;
  return right / predicted.length;
}
