import { readFile } from 'node:fs/promises';

/** A loaded model that runs one input at a time. Sessions are immutable once loaded. */
export interface InferenceSession {
  /** Runs the model on a flat float32 input of the manifest's input shape; returns the flat output. */
  run(input: Float32Array): Promise<Float32Array>;
  dispose(): Promise<void>;
  /** sha256 (hex) of the model bytes the engine loaded, when the loader computed it (attestation). */
  readonly loadedSha256?: string;
}

/**
 * A model as a path to read, or as the bytes themselves: a loader that has hashed the bytes hands the
 * engine exactly those, so what it checked is what runs (no second read of a file that could change).
 */
export type ModelSource = string | Uint8Array;

/** The bytes of `source` (read from disk when it is a path). */
export async function modelBytes(source: ModelSource): Promise<Uint8Array> {
  return typeof source === 'string' ? new Uint8Array(await readFile(source)) : source;
}

export interface ModelSpec {
  readonly engine: string;
  readonly format: string;
  readonly inputShape: readonly number[];
  readonly inputName?: string;
  readonly outputName?: string;
}

/** One engine per artifact format; chosen by the manifest. */
export interface InferenceEngine {
  readonly name: string;
  load(model: ModelSource, spec: ModelSpec): Promise<InferenceSession>;
}

/**
 * An input whose length is not the model's input size: the caller's mistake, not the model's. Sessions
 * throw it before the engine runs, so serving can answer 400 without counting a failed inference.
 */
export class InputSizeError extends RangeError {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`expected ${expected} input values, got ${actual}`);
    this.name = 'InputSizeError';
  }
}

/** The number of values in one input of `shape`. */
export function inputSizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}
