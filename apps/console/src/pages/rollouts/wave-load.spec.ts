import { describe, expect, it } from '@jest/globals';
import { waveLoads } from './wave-load.js';

const variant = (modelVersionId: string, artifactBytes: number, nodes: number) => ({ modelVersionId, version: '1.0.0', variant: modelVersionId, engine: 'onnxruntime', artifactBytes, nodes, bytesToNodes: artifactBytes * nodes });
const node = (nodeId: string, wave: number, modelVersionId: string) => ({ nodeId, name: nodeId, wave, modelVersionId });

describe('waveLoads (dry-run plan → bytes per wave)', () => {
  it('charges each node its variant’s artifact in its wave, and the waves add up to the plan’s bytes', () => {
    const plan = {
      waveSizes: [1, 3],
      unmatched: 0,
      variants: [variant('int8', 100, 2), variant('fp32', 400, 2)],
      nodes: [node('a', 0, 'int8'), node('b', 1, 'int8'), node('c', 1, 'fp32'), node('d', 1, 'fp32')],
    };
    const loads = waveLoads(plan);
    expect(loads).toEqual([
      { wave: 1, nodes: 1, bytes: 100, variants: [{ modelVersionId: 'int8', nodes: 1, bytes: 100 }] },
      {
        wave: 2,
        nodes: 3,
        bytes: 900,
        variants: [
          { modelVersionId: 'int8', nodes: 1, bytes: 100 },
          { modelVersionId: 'fp32', nodes: 2, bytes: 800 },
        ],
      },
    ]);
    expect(loads.reduce((n, w) => n + w.bytes, 0)).toBe(plan.variants.reduce((n, v) => n + v.bytesToNodes, 0));
  });

  it('keeps a wave without nodes, with nothing to send', () => {
    expect(waveLoads({ waveSizes: [0, 1], unmatched: 0, variants: [variant('v', 10, 1)], nodes: [node('a', 1, 'v')] }).map((w) => w.bytes)).toEqual([0, 10]);
  });
});
