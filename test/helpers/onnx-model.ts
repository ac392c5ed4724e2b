import onnxProto from 'onnx-proto';
import { writeTflite } from '#tflite';
import { onnxFloatValue } from '../../pipeline/src/export-onnx.js';

const { onnx } = onnxProto;

export interface DenseSoftmaxModel {
  /** The serialised ONNX model. */
  readonly bytes: Buffer;
  /** The weights, [inputs × classes] row-major, and the bias: to build the same model in other formats. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  readonly inputs: number;
  readonly classes: number;
  /** softmax(x·W + b), computed in JS: the reference the engines are checked against. */
  reference(x: Float32Array): Float32Array;
}

/**
 * A tiny real ONNX classifier, softmax(x·W + b), with deterministic weights from `seed`. Different seeds
 * give different models (different digests and outputs), which is what update tests need.
 */
export interface DenseSoftmaxOptions {
  /** Sqrt before the dense layer: NaN on negative inputs (a model fine on its golden input, broken in service). */
  readonly sqrtInput?: boolean;
  /** An unused initializer of this many bytes, to make artifacts as large as a test needs. */
  readonly padBytes?: number;
  /** The fraction of the pad's values that are not zero (every 1/density-th), as in a pruned layer: an artifact that compresses. Default 1. */
  readonly padDensity?: number;
  /**
   * Work that does not change the answer: a chain of this many [1, 256] × [256, 256] MatMul + Tanh, summed,
   * multiplied by zero and added to the logits. Latency grows with it (5× the units ≈ 5× the time), outputs do not.
   */
  readonly computeUnits?: number;
  /** The last layer's class columns rotated by one: the same confidences, every top class wrong ("confidently wrong"). */
  readonly shuffleClasses?: boolean;
  /** Output k is the seed model's class classOrder[k] (wrong wherever it moves a class); overrides shuffleClasses. */
  readonly classOrder?: readonly number[];
  /** Every weight nudged by up to ±jitter: a retrained model that mostly agrees with the seed's. */
  readonly jitter?: number;
}

const COMPUTE_WIDTH = 256;

export function denseSoftmaxModel(seed: number, inputs = 16, classes = 4, options: DenseSoftmaxOptions = {}): DenseSoftmaxModel {
  let state = seed >>> 0 || 1;
  const rand = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const w0 = Float32Array.from({ length: inputs * classes }, rand);
  const b0 = Float32Array.from({ length: classes }, rand);
  // shuffleClasses: column k takes column k+1's weights, so class k gets the score class k+1 had.
  const order = options.classOrder ?? Array.from({ length: classes }, (_, k) => (options.shuffleClasses ? (k + 1) % classes : k));
  const nudge = () => (options.jitter ? rand() * 2 * options.jitter : 0);
  const w = Float32Array.from({ length: inputs * classes }, (_, j) => (w0[Math.floor(j / classes) * classes + (order[j % classes] as number)] as number) + nudge());
  const b = Float32Array.from({ length: classes }, (_, k) => (b0[order[k] as number] as number) + nudge());
  const units = options.computeUnits ?? 0;
  const first = units > 0 ? Float32Array.from({ length: inputs * COMPUTE_WIDTH }, rand) : undefined;
  const square = units > 0 ? Float32Array.from({ length: COMPUTE_WIDTH * COMPUTE_WIDTH }, () => rand() / 8) : undefined;
  const tensor = (name: string, dims: number[], data: Float32Array) =>
    onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer.slice(0)) });
  const graph = onnx.GraphProto.create({
    name: `dense-softmax-${seed}`,
    node: [
      // With sqrtInput the model is fine on non-negative inputs and gives NaN on negative ones: it passes a
      // golden self-test and fails in service (what a soak must catch).
      ...(options.sqrtInput ? [onnx.NodeProto.create({ opType: 'Sqrt', input: ['input'], output: ['x'] })] : []),
      onnx.NodeProto.create({ opType: 'MatMul', input: [options.sqrtInput ? 'x' : 'input', 'W'], output: ['xw'] }),
      onnx.NodeProto.create({ opType: 'Add', input: ['xw', 'b'], output: units > 0 ? ['answer'] : ['logits'] }),
      ...computeChain(units),
      onnx.NodeProto.create({
        opType: 'Softmax',
        input: ['logits'],
        output: ['probabilities'],
        attribute: [onnx.AttributeProto.create({ name: 'axis', i: 1, type: onnx.AttributeProto.AttributeType.INT })],
      }),
    ],
    // padBytes adds an unused initializer, to make artifacts as large as a test needs.
    initializer: [
      tensor('W', [inputs, classes], w),
      tensor('b', [classes], b),
      ...(options.padBytes ? [tensor('pad', [Math.ceil(options.padBytes / 4)], padValues(Math.ceil(options.padBytes / 4), options.padDensity ?? 1, rand))] : []),
      ...(first && square ? [tensor('P', [inputs, COMPUTE_WIDTH], first), tensor('Q', [COMPUTE_WIDTH, COMPUTE_WIDTH], square), tensor('zero', [1], new Float32Array(1))] : []),
    ],
    input: [onnxFloatValue('input', [1, inputs])],
    output: [onnxFloatValue('probabilities', [1, classes])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'edgefleet-tests',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph,
  });
  const bytes = Buffer.from(onnx.ModelProto.encode(model).finish());
  return {
    bytes,
    weights: w,
    bias: b,
    inputs,
    classes,
    reference(x: Float32Array): Float32Array {
      const logits = Array.from({ length: classes }, (_, k) => {
        let sum = b[k] as number;
        for (let i = 0; i < inputs; i++) sum += (options.sqrtInput ? Math.sqrt(x[i] as number) : (x[i] as number)) * (w[i * classes + k] as number);
        return sum;
      });
      const max = Math.max(...logits);
      const exp = logits.map((l) => Math.exp(l - max));
      const total = exp.reduce((a, v) => a + v, 0);
      return Float32Array.from(exp.map((e) => e / total));
    },
  };
}

/** Random values, all but one in every 1/density set to zero (density 1: all random). */
function padValues(length: number, density: number, rand: () => number): Float32Array {
  const every = Math.max(1, Math.round(1 / density));
  return Float32Array.from({ length }, (_, i) => (i % every === 0 ? rand() : 0));
}

/** `answer` + 0 · Σ tanh(…tanh(tanh(input·P)·Q)…·Q) → `logits`: `units` MatMuls of work, the same logits. */
function computeChain(units: number): InstanceType<typeof onnx.NodeProto>[] {
  if (units === 0) return [];
  const node = (opType: string, input: string[], output: string) => onnx.NodeProto.create({ opType, input, output: [output] });
  const nodes = [node('MatMul', ['input', 'P'], 'h0_'), node('Tanh', ['h0_'], 'h0')];
  for (let i = 1; i <= units; i++) nodes.push(node('MatMul', [`h${i - 1}`, 'Q'], `h${i}_`), node('Tanh', [`h${i}_`], `h${i}`));
  nodes.push(node('ReduceSum', [`h${units}`], 'total'), node('Mul', ['total', 'zero'], 'nothing'), node('Add', ['answer', 'nothing'], 'logits'));
  return nodes;
}

/** The same dense + softmax weights as a `.tflite` flatbuffer (FULLY_CONNECTED weights are [out, in]). */
export function denseSoftmaxTflite(model: DenseSoftmaxModel): Uint8Array {
  const { inputs, classes, weights } = model;
  const transposed = new Float32Array(inputs * classes);
  for (let i = 0; i < inputs; i++) for (let k = 0; k < classes; k++) transposed[k * inputs + i] = weights[i * classes + k] as number;
  return writeTflite({
    tensors: [
      { name: 'input', shape: [1, inputs], type: 'float32' },
      { name: 'W', shape: [classes, inputs], type: 'float32', data: transposed },
      { name: 'b', shape: [classes], type: 'float32', data: model.bias },
      { name: 'logits', shape: [1, classes], type: 'float32' },
      { name: 'probabilities', shape: [1, classes], type: 'float32' },
    ],
    operators: [
      { op: 'FULLY_CONNECTED', inputs: [0, 1, 2], outputs: [3], activation: 'none' },
      { op: 'SOFTMAX', inputs: [3], outputs: [4] },
    ],
    inputs: [0],
    outputs: [4],
  });
}
