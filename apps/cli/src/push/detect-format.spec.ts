import { describe, expect, it } from '@jest/globals';
import { detectFormat } from './detect-format.js';

describe('detectFormat (from the bytes, not the name)', () => {
  const tflite = Buffer.concat([Buffer.from([0x1c, 0, 0, 0]), Buffer.from('TFL3'), Buffer.alloc(8)]);
  it.each([
    ['a TFLite flatbuffer (identifier TFL3 at offset 4)', tflite, 'tflite'],
    ['a TF.js bundle', Buffer.from(' {"format":"edgefleet-tfjs-v1","modelTopology":{}}'), 'tfjs'],
    ['an ONNX ModelProto (ir_version first: tag 0x08)', Buffer.from([0x08, 0x08, 0x12, 0x0f]), 'onnx'],
    ['other JSON', Buffer.from('{"hello":1}'), undefined],
    ['an empty file', Buffer.alloc(0), undefined],
    ['a PNG', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), undefined],
  ])('%s', (_name, bytes, expected) => {
    expect(detectFormat(new Uint8Array(bytes))).toBe(expected);
  });
});
