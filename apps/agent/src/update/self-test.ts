import type { InferenceSession } from '#inference';

export class SelfTestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelfTestError';
  }
}

export interface GoldenTest {
  readonly input: readonly number[];
  readonly expectedOutput: readonly number[];
  readonly tolerance: number;
}

/**
 * Runs the manifest's golden input on a freshly loaded session: every output must be finite and, when
 * an expected output is given, within `tolerance` of it. Without a golden input, a zero input of the
 * model's size must give finite outputs.
 */
export async function runSelfTest(session: InferenceSession, golden: GoldenTest, inputSize: number): Promise<void> {
  const input = golden.input.length > 0 ? Float32Array.from(golden.input) : new Float32Array(inputSize);
  if (input.length !== inputSize) throw new SelfTestError(`golden input has ${input.length} values, the model takes ${inputSize}`);
  const output = await session.run(input);
  if (!output.every(Number.isFinite)) throw new SelfTestError('the model produced a non-finite output');
  if (golden.expectedOutput.length === 0) return;
  if (output.length !== golden.expectedOutput.length) {
    throw new SelfTestError(`output has ${output.length} values, the golden output ${golden.expectedOutput.length}`);
  }
  const worst = Math.max(...Array.from(output, (v, i) => Math.abs(v - (golden.expectedOutput[i] as number))));
  if (worst > golden.tolerance) throw new SelfTestError(`output differs from the golden output by ${worst} (tolerance ${golden.tolerance})`);
}
