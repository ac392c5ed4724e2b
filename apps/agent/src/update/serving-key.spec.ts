import { describe, expect, it } from '@jest/globals';
import type { ModelManifest } from '#trust';
import { servingKey } from './serving-key.js';

const base: ModelManifest = {
  type: 'model-manifest', name: 'm', version: '1.0.0', sequence: 1, variant: 'fp32', format: 'onnx', engine: 'onnxruntime', sha256: 'a'.repeat(64), size: 3,
  inputSpec: { shape: [1, 3] }, outputSpec: {}, preprocessing: { scale: 1 }, labels: ['cat', 'dog'], selfTest: { input: [], expectedOutput: [], tolerance: 0 },
  created: '2026-12-01T00:00:00Z', expires: '2027-12-01T00:00:00Z',
};

describe('servingKey: the same bytes are known good only with the same serving-relevant manifest', () => {
  it.each<[string, Partial<ModelManifest>]>([
    ['other preprocessing', { preprocessing: { scale: 2 } }],
    ['another input spec', { inputSpec: { shape: [1, 4] } }],
    ['another output spec', { outputSpec: { shape: [1, 2] } }],
    ['other labels', { labels: ['dog', 'cat'] }],
    ['another engine', { engine: 'tfjs' }],
    ['other bytes', { sha256: 'b'.repeat(64) }],
  ])('differs with %s', (_what, change) => {
    expect(servingKey({ ...base, ...change })).not.toBe(servingKey(base));
  });

  it.each<[string, Partial<ModelManifest>]>([
    ['a new version and sequence', { version: '1.0.1', sequence: 2 }],
    ['new dates', { created: '2026-12-02T00:00:00Z', expires: '2028-01-01T00:00:00Z' }],
    ['another self-test', { selfTest: { input: [1], expectedOutput: [1], tolerance: 0.1 } }],
    ['preprocessing keys in another order', { preprocessing: { scale: 1 } }],
  ])('stays with %s', (_what, change) => {
    expect(servingKey({ ...base, ...change })).toBe(servingKey(base));
  });
});
