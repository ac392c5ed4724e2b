import onnxProto from 'onnx-proto';
import { convKernel, type CnnWeights } from './weights.js';

const { onnx } = onnxProto;

/**
 * The trained CNN as an ONNX model (opset 13) for ONNX Runtime. The input stays NHWC [1, 28, 28, 1] like
 * the manifest says; the graph transposes to the NCHW that ONNX convolutions use, and back before the
 * flatten, so the dense layer sees features in Keras' order.
 */
export function exportOnnx(w: CnnWeights): Buffer {
  const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  const constant = (name: string, dims: number[], data: Float32Array) => {
    initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) }));
    return name;
  };
  const int64s = (name: string, values: number[]) => {
    initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values }));
    return name;
  };
  const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, ints: values, type: onnx.AttributeProto.AttributeType.INTS });
  const node = (opType: string, input: string[], output: string, attribute: InstanceType<typeof onnx.AttributeProto>[] = []) => onnx.NodeProto.create({ opType, input, output: [output], attribute });

  const nodes = [node('Transpose', ['input'], 'x0', [ints('perm', [0, 3, 1, 2])])];
  let x = 'x0';
  w.convs.forEach((c, i) => {
    const [kh, kw, ci, co] = c.shape;
    nodes.push(node('Conv', [x, constant(`conv${i + 1}_w`, [co, ci, kh, kw], convKernel(c, 'OIHW')), constant(`conv${i + 1}_b`, [co], c.bias)], `conv${i + 1}`));
    nodes.push(node('Relu', [`conv${i + 1}`], `relu${i + 1}`));
    x = `relu${i + 1}`;
    if (i < 2) {
      nodes.push(node('MaxPool', [x], `pool${i + 1}`, [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]));
      x = `pool${i + 1}`;
    }
  });
  nodes.push(node('Transpose', [x], 'nhwc', [ints('perm', [0, 2, 3, 1])]));
  nodes.push(node('Reshape', ['nhwc', int64s('flat_shape', [1, w.dense[0].inputs])], 'flat'));
  nodes.push(node('Gemm', ['flat', constant('dense1_w', [w.dense[0].inputs, w.dense[0].outputs], w.dense[0].kernel), constant('dense1_b', [w.dense[0].outputs], w.dense[0].bias)], 'dense1'));
  nodes.push(node('Relu', ['dense1'], 'hidden'));
  nodes.push(node('Gemm', ['hidden', constant('dense2_w', [w.dense[1].inputs, w.dense[1].outputs], w.dense[1].kernel), constant('dense2_b', [w.dense[1].outputs], w.dense[1].bias)], 'logits'));
  nodes.push(node('Softmax', ['logits'], 'probabilities', [onnx.AttributeProto.create({ name: 'axis', i: 1, type: onnx.AttributeProto.AttributeType.INT })]));

  const graph = onnx.GraphProto.create({
    name: 'digits_cnn',
    node: nodes,
    initializer: initializers,
    input: [onnxFloatValue('input', [1, 28, 28, 1])],
    output: [onnxFloatValue('probabilities', [1, w.dense[1].outputs])],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'edgefleet-pipeline', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })], graph });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/** A graph input or output: a float32 tensor of fixed dims. */
export function onnxFloatValue(name: string, dims: readonly number[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }),
      }),
    }),
  });
}
