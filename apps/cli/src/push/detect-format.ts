import { open } from 'node:fs/promises';
import { CliError, ExitCode } from '../exit-codes.js';

export type ArtifactFormat = 'onnx' | 'tflite' | 'tfjs';
export type ArtifactEngine = 'onnxruntime' | 'litert' | 'tfjs';

export const ENGINE_FOR_FORMAT: Record<ArtifactFormat, ArtifactEngine> = { onnx: 'onnxruntime', tflite: 'litert', tfjs: 'tfjs' };

/**
 * The format from the bytes, not the file name: a TFLite flatbuffer carries the identifier `TFL3` at
 * offset 4; a TF.js bundle is JSON naming `edgefleet-tfjs-v1`; an ONNX ModelProto is protobuf whose first
 * field is `ir_version` (field 1, varint: tag byte 0x08). The engine's load check confirms the guess.
 */
export function detectFormat(head: Uint8Array): ArtifactFormat | undefined {
  if (head.length >= 8 && Buffer.from(head.subarray(4, 8)).toString('latin1') === 'TFL3') return 'tflite';
  const text = Buffer.from(head).toString('utf8').trimStart();
  if (text.startsWith('{') && text.includes('"edgefleet-tfjs-v1"')) return 'tfjs';
  if (head[0] === 0x08) return 'onnx';
  return undefined;
}

export async function detectFileFormat(path: string): Promise<{ format: ArtifactFormat; engine: ArtifactEngine }> {
  const file = await open(path, 'r').catch((error: unknown) => {
    throw new CliError(`cannot open ${path}`, ExitCode.usage, undefined, { cause: error });
  });
  try {
    const head = new Uint8Array(256);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const format = detectFormat(head.subarray(0, bytesRead));
    if (!format) throw new CliError(`${path} is neither an ONNX model, a TFLite flatbuffer nor a TF.js bundle`, ExitCode.usage, 'pass --format onnx|tflite|tfjs if the detection is wrong');
    return { format, engine: ENGINE_FOR_FORMAT[format] };
  } finally {
    await file.close();
  }
}
