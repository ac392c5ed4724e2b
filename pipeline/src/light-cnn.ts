import * as tf from '@tensorflow/tfjs';
import { CLASSES } from './cnn.js';

/**
 * The lightweight variant, in the spirit of MobileNet: one ordinary 3×3 convolution (a depthwise one on a
 * single input channel would be pointless), then two depthwise-separable blocks (3×3 depthwise, then a
 * 1×1 pointwise convolution that mixes channels) and one dense layer. About a tenth of the seed CNN's
 * parameters. Same input and output as the seed CNN, so it is a variant of the same model.
 */
export function buildLightCnn(seed: number): tf.Sequential {
  let n = seed;
  const init = () => tf.initializers.glorotUniform({ seed: n++ });
  return tf.sequential({
    name: 'digits_light',
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'conv1' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthwiseInitializer: init(), name: 'dw2' }),
      tf.layers.conv2d({ filters: 48, kernelSize: 1, activation: 'relu', kernelInitializer: init(), name: 'pw2' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthwiseInitializer: init(), name: 'dw3' }),
      tf.layers.conv2d({ filters: 96, kernelSize: 1, activation: 'relu', kernelInitializer: init(), name: 'pw3' }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(), name: 'dense' }),
    ],
  });
}
