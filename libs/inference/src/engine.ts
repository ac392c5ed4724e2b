/** A loaded model that runs one input at a time. Sessions are immutable once loaded. */
export interface InferenceSession {
  /** Runs the model on a flat float32 input of the manifest's input shape; returns the flat output. */
  run(input: Float32Array): Promise<Float32Array>;
  dispose(): Promise<void>;
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
  load(modelPath: string, spec: ModelSpec): Promise<InferenceSession>;
}
