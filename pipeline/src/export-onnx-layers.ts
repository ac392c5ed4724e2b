import onnxProto from 'onnx-proto';
import type { LayerRanges } from './calibrate-layers.js';
import { onnxFloatValue } from './export-onnx.js';
import { activation, quantiseSymmetric, type Range } from './export-tflite.js';
import type { ModelLayer } from './model-layers.js';
import { convKernel } from './weights.js';

const { onnx } = onnxProto;
type Node = InstanceType<typeof onnx.NodeProto>;
type Attribute = InstanceType<typeof onnx.AttributeProto>;
const DataType = onnx.TensorProto.DataType;
/** Weight range of the int8 ONNX export: 7 bits, see `quantisedWeights`. */
const ONNX_WEIGHT_QMAX = 63;

/** An int8 quantisation of one tensor: its scale and zero point initialisers. */
interface QParams {
  readonly scale: string;
  readonly zeroPoint: string;
}

/**
 * Any sequential digits classifier (model-layers.ts) as ONNX, opset 13, NHWC input like the manifest says.
 * Given calibration ranges, the graph is int8 in the QDQ format ONNX Runtime fuses into integer kernels
 * (QLinearConv, QGemm): every activation passes QuantizeLinear → DequantizeLinear with asymmetric
 * per-tensor parameters from calibration; convolution weights are int8, symmetric per output channel
 * (depthwise ones per channel); dense weights int8 per tensor (as the int8 TFLite); biases int32 at input
 * scale × weight scale. Input and output stay float32, and the softmax runs on dequantised logits.
 */
export function exportOnnxLayers(layers: readonly ModelLayer[], name: string, ranges?: LayerRanges): Buffer {
  const g = new OnnxGraph();
  let x = g.add('Transpose', ['input'], 'input_nchw', [ints('perm', [0, 3, 1, 2])]);
  let q = ranges ? g.qparams('input', ranges.input) : undefined;
  if (q) x = g.qdq(x, q);
  let channels = 1;
  let spatial = 28;
  for (const layer of layers) {
    if (layer.kind === 'conv') {
      [x, q] = conv(g, layer, x, q, ranges);
      channels = layer.weights.shape[3];
      spatial -= layer.weights.shape[0] - 1;
    } else if (layer.kind === 'maxpool') {
      x = g.add('MaxPool', [x], layer.name, [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]);
      if (q) x = g.qdq(x, q); // a max of int8 values is one of them: same parameters
      spatial = Math.floor(spatial / 2);
    } else if (layer.kind === 'flatten') {
      // Back to NHWC before flattening, so the dense layer sees features in Keras' order.
      x = g.add('Transpose', [x], `${layer.name}_nhwc`, [ints('perm', [0, 2, 3, 1])]);
      x = g.add('Reshape', [x, g.int64s(`${layer.name}_shape`, [1, spatial * spatial * channels])], layer.name);
      if (q) x = g.qdq(x, q);
    } else {
      [x, q] = dense(g, layer, x, q, ranges);
    }
  }
  const last = layers[layers.length - 1];
  const outputs = last?.kind === 'dense' ? last.weights.outputs : 0;
  g.rename(x, 'probabilities');
  const graph = onnx.GraphProto.create({ name, node: g.nodes, initializer: g.initializers, input: [onnxFloatValue('input', [1, 28, 28, 1])], output: [onnxFloatValue('probabilities', [1, outputs])] });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'edgefleet-pipeline', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })], graph });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

function conv(g: OnnxGraph, layer: Extract<ModelLayer, { kind: 'conv' }>, x: string, q: QParams | undefined, ranges: LayerRanges | undefined): [string, QParams | undefined] {
  const [kh, kw, ci, co] = layer.weights.shape;
  const kernel = convKernel(layer.weights, 'OIHW');
  const dims = [co, ci, kh, kw];
  const [w, b] = q && ranges ? g.quantisedWeights(layer.name, kernel, dims, co, layer.weights.bias, q) : [g.floats(`${layer.name}_w`, dims, kernel), g.floats(`${layer.name}_b`, [co], layer.weights.bias)];
  const attributes = layer.depthwise ? [int('group', co)] : [];
  let y = g.add('Conv', [x, w, b], layer.name, attributes);
  if (layer.relu) y = g.add('Relu', [y], `${layer.name}_relu`);
  if (!q || !ranges) return [y, undefined];
  const out = g.qparams(layer.name, rangeOf(ranges, layer.name));
  return [g.qdq(y, out), out];
}

function dense(g: OnnxGraph, layer: Extract<ModelLayer, { kind: 'dense' }>, x: string, q: QParams | undefined, ranges: LayerRanges | undefined): [string, QParams | undefined] {
  const d = layer.weights;
  const dims = [d.inputs, d.outputs];
  const [w, b] = q && ranges ? g.quantisedWeights(layer.name, d.kernel, dims, 1, d.bias, q) : [g.floats(`${layer.name}_w`, dims, d.kernel), g.floats(`${layer.name}_b`, [d.outputs], d.bias)];
  let y = g.add('Gemm', [x, w, b], layer.name);
  if (layer.activation === 'relu') y = g.add('Relu', [y], `${layer.name}_relu`);
  let out: QParams | undefined;
  if (q && ranges) {
    out = g.qparams(layer.name, rangeOf(ranges, layer.name));
    y = g.qdq(y, out);
  }
  if (layer.activation === 'softmax') y = g.add('Softmax', [y], `${layer.name}_softmax`, [int('axis', 1)]);
  return [y, out];
}

function rangeOf(ranges: LayerRanges, layer: string): Range {
  const range = ranges.outputs.get(layer);
  if (!range) throw new Error(`no calibration range for layer ${layer}`);
  return range;
}

const ints = (name: string, values: number[]): Attribute => onnx.AttributeProto.create({ name, ints: values, type: onnx.AttributeProto.AttributeType.INTS });
const int = (name: string, i: number): Attribute => onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT });

/** Nodes and initialisers of one graph; each node's output is named after it. */
class OnnxGraph {
  readonly nodes: Node[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];

  add(opType: string, input: string[], output: string, attribute: Attribute[] = []): string {
    this.nodes.push(onnx.NodeProto.create({ opType, input, output: [output], attribute }));
    return output;
  }

  /** Makes the last node write `name` (the graph's declared output). */
  rename(from: string, to: string): void {
    for (const n of this.nodes) if (n.output[0] === from) n.output = [to];
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    return this.raw(name, dims, DataType.FLOAT, data);
  }

  int64s(name: string, values: number[]): string {
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: DataType.INT64, int64Data: values }));
    return name;
  }

  qparams(name: string, range: Range): QParams {
    const p = activation(range);
    return { scale: this.floats(`${name}_scale`, [], Float32Array.from(p.scale)), zeroPoint: this.raw(`${name}_zp`, [], DataType.INT8, Int8Array.from(p.zeroPoint)) };
  }

  /** x → QuantizeLinear → DequantizeLinear: where the graph holds an int8 activation. */
  qdq(x: string, q: QParams): string {
    const quantised = this.add('QuantizeLinear', [x, q.scale, q.zeroPoint], `${x}_q`);
    return this.add('DequantizeLinear', [quantised, q.scale, q.zeroPoint], `${x}_dq`);
  }

  /** int8 weights (symmetric, per output channel when `channels` > 1, on axis 0) and int32 biases, each dequantised. */
  quantisedWeights(name: string, kernel: Float32Array, dims: number[], channels: number, bias: Float32Array, input: QParams): [string, string] {
    // 7-bit weights (ONNX Runtime's reduce_range): on x86 CPUs without VNNI its int8 kernels add u8 × s8
    // products in pairs into int16, which saturates with full-range weights (seen: max |Δ| 0.52 against the
    // float model on an AVX2 EPYC, under 0.2 with VNNI); ±63 keeps every pair in range on every CPU.
    const w = quantiseSymmetric(kernel, channels, ONNX_WEIGHT_QMAX);
    const inputScale = this.scalarOf(input.scale);
    const biasScales = bias.length === channels ? w.scales.map((s) => s * inputScale) : [(w.scales[0] as number) * inputScale];
    const perChannel = channels > 1;
    const shape = perChannel ? [channels] : [];
    const wScale = this.floats(`${name}_w_scale`, shape, Float32Array.from(w.scales));
    const wZero = this.raw(`${name}_w_zp`, shape, DataType.INT8, new Int8Array(w.scales.length));
    const axis = perChannel ? [int('axis', 0)] : [];
    const weights = this.add('DequantizeLinear', [this.raw(`${name}_w_q`, dims, DataType.INT8, w.values), wScale, wZero], `${name}_w`, axis);
    const bScale = this.floats(`${name}_b_scale`, shape, Float32Array.from(biasScales));
    const bZero = this.raw(`${name}_b_zp`, shape, DataType.INT32, new Int32Array(biasScales.length));
    const q = Int32Array.from(bias, (v, c) => Math.round(v / (biasScales[perChannel ? c : 0] as number)));
    return [weights, this.add('DequantizeLinear', [this.raw(`${name}_b_q`, [bias.length], DataType.INT32, q), bScale, bZero], `${name}_b`, axis)];
  }

  private scalarOf(initializer: string): number {
    const t = this.initializers.find((i) => i.name === initializer);
    const raw = t?.rawData;
    if (!raw || raw.length < 4) throw new Error(`no scalar initialiser ${initializer}`);
    return new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getFloat32(0, true);
  }

  private raw(name: string, dims: number[], dataType: number, data: Float32Array | Int8Array | Int32Array): string {
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) }));
    return name;
  }
}
