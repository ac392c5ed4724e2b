import { Builder } from 'flatbuffers';
import {
  ACTIVATION,
  BUILTIN_OPERATOR,
  BUILTIN_OPTIONS,
  FIELDS,
  FILE_IDENTIFIER,
  PADDING,
  PLACEHOLDER_FOR_GREATER_OP_CODES,
  TENSOR_TYPE,
  type BuiltinOperatorName,
  type TensorTypeName,
} from './schema.js';

type Offset = number;

/** Affine quantisation: real = scale × (q − zeroPoint); per tensor (one entry) or per channel. */
export interface Quantization {
  readonly scale: readonly number[];
  readonly zeroPoint: readonly number[];
  readonly quantizedDimension?: number;
}

export interface TfliteTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: TensorTypeName;
  /** Constant data (weights); activations have none. */
  readonly data?: Float32Array | Int32Array | Int8Array;
  readonly quantization?: Quantization;
}

export type Activation = keyof typeof ACTIVATION;
export type Padding = keyof typeof PADDING;

export type TfliteOperator =
  | { readonly op: 'CONV_2D'; readonly inputs: number[]; readonly outputs: number[]; readonly padding: Padding; readonly stride: number; readonly activation: Activation }
  | {
      readonly op: 'MAX_POOL_2D';
      readonly inputs: number[];
      readonly outputs: number[];
      readonly padding: Padding;
      readonly stride: number;
      readonly filter: number;
    }
  | { readonly op: 'FULLY_CONNECTED'; readonly inputs: number[]; readonly outputs: number[]; readonly activation: Activation }
  | { readonly op: 'SOFTMAX'; readonly inputs: number[]; readonly outputs: number[] }
  | { readonly op: 'RESHAPE'; readonly inputs: number[]; readonly outputs: number[]; readonly newShape: readonly number[] }
  | { readonly op: 'QUANTIZE' | 'DEQUANTIZE'; readonly inputs: number[]; readonly outputs: number[] };

/** One subgraph: tensors by index, the operators in execution order, the graph's inputs and outputs. */
export interface TfliteGraph {
  readonly tensors: readonly TfliteTensor[];
  readonly operators: readonly TfliteOperator[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly description?: string;
}

/**
 * Serialises a graph as a `.tflite` flatbuffer that LiteRT (and TFLite) load. Writes what the interpreter
 * needs and nothing else: no signature defs (inputs and outputs are read by position), no metadata.
 */
export function writeTflite(graph: TfliteGraph): Uint8Array {
  checkGraph(graph);
  const b = new Builder(1024);
  const opNames = [...new Set(graph.operators.map((o) => o.op))];

  // Buffer 0 is the schema's empty sentinel; each constant tensor gets its own buffer after it.
  const bufferOffsets: Offset[] = [writeBuffer(b)];
  const tensorOffsets = graph.tensors.map((tensor) => {
    const bufferIndex = tensor.data ? bufferOffsets.push(writeBuffer(b, bytesOf(tensor.data))) - 1 : 0;
    return writeTensor(b, tensor, bufferIndex);
  });
  const operatorOffsets = graph.operators.map((op) => writeOperator(b, op, opNames.indexOf(op.op)));

  const tensors = vectorOfOffsets(b, tensorOffsets);
  const inputs = vectorOfInt32(b, graph.inputs);
  const outputs = vectorOfInt32(b, graph.outputs);
  const operators = vectorOfOffsets(b, operatorOffsets);
  const subgraphName = b.createString('main');
  const S = FIELDS.SubGraph;
  b.startObject(S.count);
  b.addFieldOffset(S.tensors, tensors, 0);
  b.addFieldOffset(S.inputs, inputs, 0);
  b.addFieldOffset(S.outputs, outputs, 0);
  b.addFieldOffset(S.operators, operators, 0);
  b.addFieldOffset(S.name, subgraphName, 0);
  const subgraph = b.endObject();

  const operatorCodes = vectorOfOffsets(b, opNames.map((name) => writeOperatorCode(b, name)));
  const subgraphs = vectorOfOffsets(b, [subgraph]);
  const buffers = vectorOfOffsets(b, bufferOffsets);
  const description = b.createString(graph.description ?? 'edgefleet');
  const M = FIELDS.Model;
  b.startObject(M.count);
  b.addFieldInt32(M.version, 3, 0);
  b.addFieldOffset(M.operatorCodes, operatorCodes, 0);
  b.addFieldOffset(M.subgraphs, subgraphs, 0);
  b.addFieldOffset(M.description, description, 0);
  b.addFieldOffset(M.buffers, buffers, 0);
  b.finish(b.endObject(), FILE_IDENTIFIER);
  return b.asUint8Array();
}

function checkGraph(graph: TfliteGraph): void {
  const count = graph.tensors.length;
  const indices = [...graph.inputs, ...graph.outputs, ...graph.operators.flatMap((o) => [...o.inputs, ...o.outputs])];
  const bad = indices.find((i) => !Number.isInteger(i) || i < -1 || i >= count);
  if (bad !== undefined) throw new RangeError(`tensor index ${bad} is outside 0..${count - 1}`);
  for (const tensor of graph.tensors) {
    if (!tensor.data) continue;
    const elements = tensor.shape.reduce((a, d) => a * d, 1);
    if (tensor.data.length !== elements) throw new RangeError(`tensor '${tensor.name}' has ${tensor.data.length} values for shape [${tensor.shape.join(',')}]`);
  }
}

function bytesOf(data: Float32Array | Int32Array | Int8Array): Uint8Array {
  // TFLite buffers are little-endian, as are the typed arrays on every platform Node runs on.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function writeBuffer(b: Builder, data?: Uint8Array): Offset {
  let dataOffset = 0;
  if (data) {
    // The schema asks for 16-byte alignment of buffer data (force_align: 16) so kernels can read in place.
    b.startVector(1, data.length, 16);
    for (let i = data.length - 1; i >= 0; i--) b.addInt8(data[i] as number);
    dataOffset = b.endVector();
  }
  b.startObject(FIELDS.Buffer.count);
  if (data) b.addFieldOffset(FIELDS.Buffer.data, dataOffset, 0);
  return b.endObject();
}

function writeTensor(b: Builder, tensor: TfliteTensor, bufferIndex: number): Offset {
  const shape = vectorOfInt32(b, tensor.shape);
  const name = b.createString(tensor.name);
  const quantization = tensor.quantization ? writeQuantization(b, tensor.quantization) : 0;
  const T = FIELDS.Tensor;
  b.startObject(T.count);
  b.addFieldOffset(T.shape, shape, 0);
  b.addFieldInt8(T.type, TENSOR_TYPE[tensor.type], 0);
  b.addFieldInt32(T.buffer, bufferIndex, 0);
  b.addFieldOffset(T.name, name, 0);
  if (quantization) b.addFieldOffset(T.quantization, quantization, 0);
  return b.endObject();
}

function writeQuantization(b: Builder, q: Quantization): Offset {
  b.startVector(4, q.scale.length, 4);
  for (let i = q.scale.length - 1; i >= 0; i--) b.addFloat32(q.scale[i] as number);
  const scale = b.endVector();
  b.startVector(8, q.zeroPoint.length, 8);
  for (let i = q.zeroPoint.length - 1; i >= 0; i--) b.addInt64(BigInt(q.zeroPoint[i] as number));
  const zeroPoint = b.endVector();
  const Q = FIELDS.QuantizationParameters;
  b.startObject(Q.count);
  b.addFieldOffset(Q.scale, scale, 0);
  b.addFieldOffset(Q.zeroPoint, zeroPoint, 0);
  b.addFieldInt32(Q.quantizedDimension, q.quantizedDimension ?? 0, 0);
  return b.endObject();
}

function writeOperatorCode(b: Builder, name: BuiltinOperatorName): Offset {
  const code = BUILTIN_OPERATOR[name];
  const O = FIELDS.OperatorCode;
  b.startObject(O.count);
  // Readers take max(deprecated_builtin_code, builtin_code); old readers only know the byte field.
  b.addFieldInt8(O.deprecatedBuiltinCode, Math.min(code, PLACEHOLDER_FOR_GREATER_OP_CODES), 0);
  b.addFieldInt32(O.version, 1, 1);
  b.addFieldInt32(O.builtinCode, code, 0);
  return b.endObject();
}

function writeOperator(b: Builder, op: TfliteOperator, opcodeIndex: number): Offset {
  const options = writeOptions(b, op);
  const inputs = vectorOfInt32(b, op.inputs);
  const outputs = vectorOfInt32(b, op.outputs);
  const O = FIELDS.Operator;
  b.startObject(O.count);
  b.addFieldInt32(O.opcodeIndex, opcodeIndex, 0);
  b.addFieldOffset(O.inputs, inputs, 0);
  b.addFieldOffset(O.outputs, outputs, 0);
  if (options) {
    b.addFieldInt8(O.builtinOptionsType, options.type, 0);
    b.addFieldOffset(O.builtinOptions, options.offset, 0);
  }
  return b.endObject();
}

/** The operator's options table, or none for operators whose defaults are right (QUANTIZE, DEQUANTIZE). */
function writeOptions(b: Builder, op: TfliteOperator): { type: number; offset: Offset } | undefined {
  switch (op.op) {
    case 'CONV_2D': {
      const F = FIELDS.Conv2DOptions;
      b.startObject(F.count);
      b.addFieldInt8(F.padding, PADDING[op.padding], -1);
      b.addFieldInt32(F.strideW, op.stride, 0);
      b.addFieldInt32(F.strideH, op.stride, 0);
      b.addFieldInt8(F.activation, ACTIVATION[op.activation], 0);
      b.addFieldInt32(F.dilationW, 1, 1);
      b.addFieldInt32(F.dilationH, 1, 1);
      return { type: BUILTIN_OPTIONS.Conv2DOptions, offset: b.endObject() };
    }
    case 'MAX_POOL_2D': {
      const F = FIELDS.Pool2DOptions;
      b.startObject(F.count);
      b.addFieldInt8(F.padding, PADDING[op.padding], -1);
      b.addFieldInt32(F.strideW, op.stride, 0);
      b.addFieldInt32(F.strideH, op.stride, 0);
      b.addFieldInt32(F.filterWidth, op.filter, 0);
      b.addFieldInt32(F.filterHeight, op.filter, 0);
      b.addFieldInt8(F.activation, ACTIVATION.none, -1);
      return { type: BUILTIN_OPTIONS.Pool2DOptions, offset: b.endObject() };
    }
    case 'FULLY_CONNECTED': {
      b.startObject(FIELDS.FullyConnectedOptions.count);
      b.addFieldInt8(FIELDS.FullyConnectedOptions.activation, ACTIVATION[op.activation], -1);
      return { type: BUILTIN_OPTIONS.FullyConnectedOptions, offset: b.endObject() };
    }
    case 'SOFTMAX': {
      // Without options the interpreter would read beta = 0 and answer a uniform distribution.
      b.startObject(FIELDS.SoftmaxOptions.count);
      b.addFieldFloat32(FIELDS.SoftmaxOptions.beta, 1, 0);
      return { type: BUILTIN_OPTIONS.SoftmaxOptions, offset: b.endObject() };
    }
    case 'RESHAPE': {
      const newShape = vectorOfInt32(b, op.newShape);
      b.startObject(FIELDS.ReshapeOptions.count);
      b.addFieldOffset(FIELDS.ReshapeOptions.newShape, newShape, 0);
      return { type: BUILTIN_OPTIONS.ReshapeOptions, offset: b.endObject() };
    }
    case 'QUANTIZE':
    case 'DEQUANTIZE':
      return undefined;
  }
}

function vectorOfInt32(b: Builder, values: readonly number[]): Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i] as number);
  return b.endVector();
}

function vectorOfOffsets(b: Builder, offsets: readonly Offset[]): Offset {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i] as Offset);
  return b.endVector();
}
