/**
 * The parts of the TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs, version 3) that EdgeFleet
 * writes. Values and field slots are the schema's; a wrong one gives a model the interpreter refuses or,
 * worse, misreads, so every number here is checked by the round-trip tests against LiteRT itself.
 */

/** BuiltinOperator codes. */
export const BUILTIN_OPERATOR = {
  CONV_2D: 3,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  MAX_POOL_2D: 17,
  RESHAPE: 22,
  SOFTMAX: 25,
  QUANTIZE: 114,
} as const;
export type BuiltinOperatorName = keyof typeof BUILTIN_OPERATOR;

/** Codes above this live only in `builtin_code`; `deprecated_builtin_code` holds this placeholder. */
export const PLACEHOLDER_FOR_GREATER_OP_CODES = 127;

/** TensorType values. */
export const TENSOR_TYPE = { float32: 0, int32: 2, int8: 9 } as const;
export type TensorTypeName = keyof typeof TENSOR_TYPE;

/** BuiltinOptions union member ids. */
export const BUILTIN_OPTIONS = { Conv2DOptions: 1, Pool2DOptions: 5, FullyConnectedOptions: 8, SoftmaxOptions: 9, ReshapeOptions: 17 } as const;

export const PADDING = { same: 0, valid: 1 } as const;
export const ACTIVATION = { none: 0, relu: 1 } as const;

/** Field slots (vtable indices) of the tables written. */
export const FIELDS = {
  Model: { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4, count: 8 },
  OperatorCode: { deprecatedBuiltinCode: 0, version: 2, builtinCode: 3, count: 4 },
  SubGraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4, count: 5 },
  Tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, count: 5 },
  QuantizationParameters: { scale: 2, zeroPoint: 3, quantizedDimension: 6, count: 7 },
  Buffer: { data: 0, count: 3 },
  Operator: { opcodeIndex: 0, inputs: 1, outputs: 2, builtinOptionsType: 3, builtinOptions: 4, count: 5 },
  Conv2DOptions: { padding: 0, strideW: 1, strideH: 2, activation: 3, dilationW: 4, dilationH: 5, count: 6 },
  Pool2DOptions: { padding: 0, strideW: 1, strideH: 2, filterWidth: 3, filterHeight: 4, activation: 5, count: 6 },
  FullyConnectedOptions: { activation: 0, count: 1 },
  SoftmaxOptions: { beta: 0, count: 1 },
  ReshapeOptions: { newShape: 0, count: 1 },
} as const;

/** TFLite's file identifier, at bytes 4..8 of every model. */
export const FILE_IDENTIFIER = 'TFL3';
