import type { InferenceEngine as Engine, InferenceSession } from '#inference';
import { UnprocessableError, ValidationError } from '#common';
import { ENGINE_FOR_FORMAT, type InferenceEngine, type ModelFormat } from './model-version.entity.js';

/** What the model (not the version) declares: the shapes every version must accept and produce. */
export interface DeclaredSpec {
  readonly inputSpec: Record<string, unknown>;
  readonly outputSpec: Record<string, unknown>;
}

export interface UploadedArtifact {
  /** Where the uploaded bytes are (the store's temporary file). */
  readonly path: string;
  readonly format: ModelFormat;
  readonly engine: InferenceEngine;
  readonly preprocessing?: Record<string, unknown>;
  readonly selfTest?: { readonly input: number[]; readonly expectedOutput?: number[]; readonly tolerance?: number };
  readonly skipSelfTest?: boolean;
}

/** The golden self-test signed into the manifest, complete. */
export interface CheckedSelfTest {
  input: number[];
  expectedOutput: number[];
  tolerance: number;
}

/** A bound on what one check allocates: a declared input of more values is refused. */
export const MAX_INPUT_VALUES = 4_000_000;
export const DEFAULT_SELF_TEST_TOLERANCE = 1e-4;
/** The default bound of a direct call; the upload path's bound is `config.artifacts.checkTimeoutMs`. */
export const CHECK_TIMEOUT_MS = 60_000;
const MAX_DIMS = 8;

/**
 * Engine messages can be long (ONNX Runtime's include the node graph) and name the temporary file:
 * the problem names the gist, without our paths.
 */
const gist = (error: unknown, path = '\0') =>
  (error instanceof Error ? error.message : String(error)).split(path).join('the artifact').replace(/\s+/g, ' ').slice(0, 300);

function declaredShape(spec: Record<string, unknown>, field: 'inputSpec' | 'outputSpec'): number[] {
  const shape = spec['shape'];
  const valid = Array.isArray(shape) && shape.length >= 1 && shape.length <= MAX_DIMS && shape.every((d) => Number.isSafeInteger(d) && (d as number) > 0);
  if (!valid) throw new UnprocessableError(`the model's ${field}.shape must be 1 to ${MAX_DIMS} positive integers (got ${JSON.stringify(shape ?? null).slice(0, 100)})`);
  return shape as number[];
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/**
 * Loads an uploaded artifact with the engine its format names and runs it once, so that garbage is
 * refused (422) before anything is signed: the bytes must load, take the model's declared input shape
 * (after the version's preprocessing, as a node applies it) and give the declared number of finite
 * outputs. With a self-test input, that input is the one run: its output must match the expected one
 * when given, and becomes the expected output when not. Without a self-test, the caller must opt out.
 */
export async function checkArtifact(
  engines: ReadonlyMap<string, Engine>,
  spec: DeclaredSpec,
  artifact: UploadedArtifact,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<CheckedSelfTest | undefined> {
  refuseInconsistentFields(artifact);
  const inputShape = declaredShape(spec.inputSpec, 'inputSpec');
  const outputShape = declaredShape(spec.outputSpec, 'outputSpec');
  const inputSize = sizeOf(inputShape);
  if (inputSize > MAX_INPUT_VALUES) throw new UnprocessableError(`the declared input shape [${inputShape}] holds ${inputSize} values; at most ${MAX_INPUT_VALUES} are supported`);
  const input = artifact.selfTest ? Float32Array.from(artifact.selfTest.input) : new Float32Array(inputSize);
  if (input.length !== inputSize) throw new UnprocessableError(`the self-test input has ${input.length} values; the declared input shape [${inputShape}] takes ${inputSize}`);

  const { compilePreprocessing, parsePreprocessing } = await import('#inference');
  let preprocess: (x: Float32Array) => Float32Array;
  try {
    preprocess = compilePreprocessing(parsePreprocessing(artifact.preprocessing), inputShape);
  } catch (error) {
    throw new UnprocessableError(`the preprocessing is not one nodes can apply: ${gist(error)}`, { cause: error });
  }
  const engine = engines.get(artifact.engine);
  if (!engine) throw new UnprocessableError(`no engine '${artifact.engine}' to check the artifact with`);
  const output = await within(runOnce(engine, spec, artifact, inputShape, preprocess(input)), timeoutMs, `the artifact did not load and run within ${timeoutMs / 1000} s`);
  return verifyOutput(output, outputShape, artifact.selfTest);
}

/** The checks on the fields alone: cheap, so the upload path runs them before starting a child process. */
export function refuseInconsistentFields(artifact: UploadedArtifact): void {
  if (ENGINE_FOR_FORMAT[artifact.format] !== artifact.engine) {
    throw new ValidationError(`format '${artifact.format}' runs on engine '${ENGINE_FOR_FORMAT[artifact.format]}', not '${artifact.engine}'`, [
      { field: 'engine', message: `must be ${ENGINE_FOR_FORMAT[artifact.format]} for format ${artifact.format}` },
    ]);
  }
  if (artifact.selfTest && artifact.skipSelfTest) throw new ValidationError('give a selfTest or set skipSelfTest, not both', [{ field: 'skipSelfTest', message: 'must not be set with selfTest' }]);
  if (!artifact.selfTest && !artifact.skipSelfTest) {
    throw new ValidationError('a version needs a selfTest (an input; the expected output is computed when absent), or skipSelfTest=true', [
      { field: 'selfTest', message: 'required unless skipSelfTest is true' },
    ]);
  }
}

/** Load, one run, dispose: as a whole, so a run that finishes after the time bound still cleans up. */
async function runOnce(engine: Engine, spec: DeclaredSpec, artifact: UploadedArtifact, inputShape: number[], input: Float32Array): Promise<Float32Array> {
  const inputName = typeof spec.inputSpec['name'] === 'string' ? spec.inputSpec['name'] : undefined;
  const outputName = typeof spec.outputSpec['name'] === 'string' ? spec.outputSpec['name'] : undefined;
  let session: InferenceSession;
  try {
    session = await engine.load(artifact.path, { engine: artifact.engine, format: artifact.format, inputShape, inputName, outputName });
  } catch (error) {
    throw new UnprocessableError(`the artifact does not load as ${artifact.format} with ${artifact.engine}: ${gist(error, artifact.path)}`, { cause: error });
  }
  try {
    return await session.run(input);
  } catch (error) {
    throw new UnprocessableError(`the model fails on an input of the declared shape [${inputShape}] (input '${inputName ?? 'first'}', output '${outputName ?? 'first'}'): ${gist(error)}`, { cause: error });
  } finally {
    await session.dispose().catch(() => undefined);
  }
}

/** The engines cannot be interrupted: past the bound the upload is refused and the work finishes unheard. */
function within<T>(work: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnprocessableError(message)), timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function verifyOutput(output: Float32Array, outputShape: readonly number[], selfTest: UploadedArtifact['selfTest']): CheckedSelfTest | undefined {
  if (output.length !== sizeOf(outputShape)) {
    throw new UnprocessableError(`the model gives ${output.length} output values; the declared output shape [${outputShape}] holds ${sizeOf(outputShape)}`);
  }
  if (!output.every(Number.isFinite)) throw new UnprocessableError(`the model gives non-finite outputs on the ${selfTest ? 'self-test' : 'all-zero'} input`);
  if (!selfTest) return undefined;
  const tolerance = selfTest.tolerance ?? DEFAULT_SELF_TEST_TOLERANCE;
  const expected = selfTest.expectedOutput;
  if (!expected) return { input: selfTest.input, expectedOutput: Array.from(output), tolerance };
  if (expected.length !== output.length) throw new UnprocessableError(`the self-test expects ${expected.length} output values; the model gives ${output.length}`);
  let worst = 0;
  for (let i = 0; i < output.length; i++) worst = Math.max(worst, Math.abs((output[i] as number) - (expected[i] as number)));
  if (!(worst <= tolerance)) {
    throw new UnprocessableError(`the artifact does not reproduce the self-test's expected output: it differs by ${worst} (tolerance ${tolerance})`);
  }
  return { input: selfTest.input, expectedOutput: expected, tolerance };
}
