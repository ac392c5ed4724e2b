import type * as tf from '@tensorflow/tfjs';
import type { ConvWeights, DenseWeights } from './weights.js';

/**
 * A sequential digits classifier as plain data, whatever its architecture: what the generic exporters
 * (ONNX fp32 and int8 QDQ) and calibration walk. Convolutions are stride 1, 'valid'; pools are 2×2/2.
 */
export type ModelLayer =
  | { readonly kind: 'conv'; readonly name: string; readonly weights: ConvWeights; readonly depthwise: boolean; readonly relu: boolean }
  | { readonly kind: 'maxpool'; readonly name: string }
  | { readonly kind: 'flatten'; readonly name: string }
  | { readonly kind: 'dense'; readonly name: string; readonly weights: DenseWeights; readonly activation: 'relu' | 'softmax' | 'linear' };

export class UnsupportedLayerError extends Error {
  constructor(readonly layer: string, readonly className: string) {
    super(`layer ${layer}: ${className} is not one the exporters know`);
    this.name = 'UnsupportedLayerError';
  }
}

/** Reads a trained Sequential model's layers and weights (tfjs kernels: conv HWIO, depthwise HWC1, dense [in, out]). */
export function modelLayers(model: tf.LayersModel): ModelLayer[] {
  return model.layers.map((layer): ModelLayer => {
    const config = layer.getConfig();
    const activation = String(config['activation'] ?? 'linear');
    const w = layer.getWeights().map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape as number[] }));
    switch (layer.getClassName()) {
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.getClassName() === 'DepthwiseConv2D';
        const [kh, kw, ci, co] = w[0]?.shape as [number, number, number, number];
        // A depthwise kernel [kh, kw, C, 1] has the memory layout of an HWIO kernel [kh, kw, 1, C].
        const shape: ConvWeights['shape'] = depthwise ? [kh, kw, 1, ci] : [kh, kw, ci, co];
        return { kind: 'conv', name: layer.name, depthwise, relu: activation === 'relu', weights: { kernel: w[0]?.data as Float32Array, shape, bias: w[1]?.data as Float32Array } };
      }
      case 'MaxPooling2D':
        return { kind: 'maxpool', name: layer.name };
      case 'Flatten':
        return { kind: 'flatten', name: layer.name };
      case 'Dense': {
        const [inputs, outputs] = w[0]?.shape as [number, number];
        if (activation !== 'relu' && activation !== 'softmax' && activation !== 'linear') throw new UnsupportedLayerError(layer.name, `Dense(${activation})`);
        return { kind: 'dense', name: layer.name, activation, weights: { kernel: w[0]?.data as Float32Array, inputs, outputs, bias: w[1]?.data as Float32Array } };
      }
      default:
        throw new UnsupportedLayerError(layer.name, layer.getClassName());
    }
  });
}

/** Parameters (weights and biases) of the layers. */
export function parameterCount(layers: readonly ModelLayer[]): number {
  return layers.reduce((n, l) => n + (l.kind === 'conv' || l.kind === 'dense' ? l.weights.kernel.length + l.weights.bias.length : 0), 0);
}
