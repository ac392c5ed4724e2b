/** The largest finite float32: a JSON number beyond it would reach the model as ±Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;
const MAX_INPUT_VALUES = 1_000_000;
const MAX_INPUT_REF = 200;

/** A request the client got wrong: answered with `status`, never shown to a model. */
export class RequestProblem extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly title: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'RequestProblem';
  }
}

export interface InferRequest {
  readonly input: Float32Array;
  readonly inputRef?: string;
}

const bad = (detail: string, cause?: unknown) => new RequestProblem(400, 'Bad Request', detail, cause === undefined ? undefined : { cause });

/**
 * `{"input": [numbers], "inputRef": "optional id"}` → a float32 input, checked in the same pass that
 * converts it (no schema library on the request path: this runs once per inference). Unknown keys,
 * non-numbers and values outside float32 are refused.
 */
export function parseInferRequest(body: Buffer): InferRequest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw bad('body is not JSON', error);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('body: expected an object {"input": [numbers]}');
  const fields = json as Record<string, unknown>;
  // A key check without the rest object and key array a `...rest` destructuring allocates per request.
  for (const key in fields) if (key !== 'input' && key !== 'inputRef') throw bad(`body: unknown key(s) ${unknownKeys(fields)}`);
  const { input, inputRef } = fields;
  if (!Array.isArray(input)) throw bad('input: expected an array of numbers');
  if (input.length === 0 || input.length > MAX_INPUT_VALUES) throw bad(`input: expected 1 to ${MAX_INPUT_VALUES} numbers, got ${input.length}`);
  const values = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const v: unknown = input[i];
    if (typeof v !== 'number' || !(v >= -FLOAT32_MAX && v <= FLOAT32_MAX)) throw bad(`input.${i}: expected a number that fits float32, got ${String(JSON.stringify(v)).slice(0, 40)}`);
    values[i] = v;
  }
  if (inputRef !== undefined && (typeof inputRef !== 'string' || inputRef.length > MAX_INPUT_REF)) throw bad(`inputRef: expected a string of at most ${MAX_INPUT_REF} characters`);
  // The wire contract refuses NUL (PostgreSQL cannot store it): refused here, the caller learns why.
  if (inputRef?.includes('\u0000')) throw bad('inputRef: must not contain the NUL character (\\u0000)');
  return inputRef === undefined ? { input: values } : { input: values, inputRef };
}

function unknownKeys(body: Record<string, unknown>): string {
  return Object.keys(body)
    .filter((k) => k !== 'input' && k !== 'inputRef')
    .map((k) => JSON.stringify(k))
    .join(', ');
}
