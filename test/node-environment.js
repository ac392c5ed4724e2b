// Jest runs tests in a separate VM realm; native addons (onnxruntime-node) create typed arrays in the
// outer realm, and `instanceof Float32Array` then fails inside their own checks. Share the outer realm's
// binary constructors with the tests.
import { TestEnvironment } from 'jest-environment-node';

const SHARED = ['ArrayBuffer', 'SharedArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array',
  'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Uint8ClampedArray', 'DataView', 'Buffer'];

export default class SharedBinaryEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}
