import { readFile } from 'node:fs/promises';
import { CliError, ExitCode } from '../exit-codes.js';
import type { ArtifactEngine, ArtifactFormat } from './detect-format.js';

export interface SelfTest {
  input: number[];
  expectedOutput?: number[];
  tolerance?: number;
}

export interface LocalCheck {
  readonly path: string;
  readonly format: ArtifactFormat;
  readonly engine: ArtifactEngine;
  readonly inputSpec: Record<string, unknown>;
  readonly outputSpec: Record<string, unknown>;
  readonly preprocessing?: Record<string, unknown>;
}

const TOLERANCE = 1e-4;

const shapeOf = (spec: Record<string, unknown>, field: string): number[] => {
  const shape = spec['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) > 0)) throw new CliError(`the model's ${field}.shape is not a list of positive integers`, ExitCode.failed);
  return shape as number[];
};

/**
 * A deterministic input in [0, 1) of the declared size, so `--self-test auto` gives the same golden test
 * for the same model every time (and differs between positions, unlike zeros).
 */
export function autoSelfTestInput(size: number): number[] {
  return Array.from({ length: size }, (_, i) => ((i * 37) % 101) / 101);
}

/** A --self-test FILE: JSON {"input":[…], "expectedOutput":[…]?, "tolerance":…?}. */
export async function readSelfTest(path: string): Promise<SelfTest> {
  let parsed: Partial<SelfTest>;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<SelfTest>;
  } catch (error) {
    throw new CliError(`cannot read the self-test ${path} as JSON`, ExitCode.usage, 'give a file {"input":[…],"expectedOutput":[…]} or --self-test auto', { cause: error });
  }
  if (!Array.isArray(parsed.input) || !parsed.input.every((v) => typeof v === 'number')) throw new CliError(`${path}: "input" must be an array of numbers`, ExitCode.usage);
  return { input: parsed.input, expectedOutput: parsed.expectedOutput, tolerance: parsed.tolerance };
}

/** Reference statistics for drift (docs/drift.md) from a JSON file; the control plane checks their bounds. */
export async function readReferenceStats(path: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new CliError(`cannot read the reference statistics ${path} as JSON`, ExitCode.usage, 'give the *.reference-stats.json the pipeline writes next to an export', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError(`${path}: must be a JSON object`, ExitCode.usage);
  return parsed as Record<string, unknown>;
}

/**
 * Loads the artifact with its engine (as the control plane and the nodes will), applies the preprocessing
 * and runs the self-test input once: the output, which becomes the expected one when none was given.
 * Garbage fails here, before a byte is uploaded.
 */
export async function runLocally(check: LocalCheck, selfTest: SelfTest): Promise<SelfTest & { expectedOutput: number[] }> {
  const { createEngines, compilePreprocessing, parsePreprocessing } = await import('#inference');
  const inputShape = shapeOf(check.inputSpec, 'inputSpec');
  const outputSize = shapeOf(check.outputSpec, 'outputSpec').reduce((a, d) => a * d, 1);
  const engine = createEngines().get(check.engine);
  if (!engine) throw new CliError(`this CLI has no engine '${check.engine}'`, ExitCode.failed);
  const name = (spec: Record<string, unknown>) => (typeof spec['name'] === 'string' ? spec['name'] : undefined);
  let output: Float32Array;
  try {
    const preprocess = compilePreprocessing(parsePreprocessing(check.preprocessing), inputShape);
    const session = await engine.load(check.path, { engine: check.engine, format: check.format, inputShape, inputName: name(check.inputSpec), outputName: name(check.outputSpec) });
    try {
      output = await session.run(preprocess(Float32Array.from(selfTest.input)));
    } finally {
      await session.dispose().catch(() => undefined);
    }
  } catch (error) {
    throw new CliError(`the model does not load and run as ${check.format} with ${check.engine} on its declared input [${inputShape}]: ${(error as Error).message}`, ExitCode.failed, 'check the file and the model\'s inputSpec/outputSpec (edgefleet models ls)', { cause: error });
  }
  return compareOutput(Array.from(output), outputSize, selfTest);
}

function compareOutput(output: number[], outputSize: number, selfTest: SelfTest): SelfTest & { expectedOutput: number[] } {
  if (output.length !== outputSize) throw new CliError(`the model gives ${output.length} outputs; the model declares ${outputSize}`, ExitCode.failed);
  if (!output.every(Number.isFinite)) throw new CliError('the model gives non-finite outputs on the self-test input', ExitCode.failed);
  const tolerance = selfTest.tolerance ?? TOLERANCE;
  if (selfTest.expectedOutput) {
    const worst = Math.max(...output.map((v, i) => Math.abs(v - (selfTest.expectedOutput?.[i] ?? Number.NaN))));
    if (!(worst <= tolerance)) throw new CliError(`the self-test fails locally: the output differs from expectedOutput by ${worst} (tolerance ${tolerance})`, ExitCode.failed);
    return { input: selfTest.input, expectedOutput: selfTest.expectedOutput, tolerance };
  }
  return { input: selfTest.input, expectedOutput: output, tolerance };
}
