import { ApiProblemError } from '#api-client';

/** What scripts can rely on (docs/cli.md). */
export const ExitCode = {
  ok: 0,
  /** The operation ran and failed: an upload refused (422), a rollout that halted or failed, a server error. */
  failed: 1,
  /** Wrong arguments or input (also a 400 from the API). */
  usage: 2,
  /** No key, a wrong or revoked key, or a role too low (401, 403). */
  auth: 3,
  notFound: 4,
  /** The request conflicts with the current state (409): a duplicate, a transition the state forbids. */
  conflict: 5,
  /** The control plane could not be reached. */
  unreachable: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports in words: what went wrong, and what to do about it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return ExitCode.auth;
  if (status === 404) return ExitCode.notFound;
  if (status === 409) return ExitCode.conflict;
  if (status === 400) return ExitCode.usage;
  return ExitCode.failed;
}

const HINTS: Record<number, string> = {
  400: 'check the arguments against `--help` and the fields named above',
  401: 'run `edgefleet login` with a valid key, or set EDGEFLEET_API_KEY',
  403: "this key's role is too low for the operation: use an operator key (admin for keys and tokens)",
  404: 'check the id or name (`ls` lists what exists)',
  409: 'the resource is not in a state that allows this: look at it with `get`',
  413: 'the file is larger than the control plane accepts (ARTIFACT_MAX_BYTES)',
  // The only bound on concurrent use today: open event streams per key (console tabs, tails, watches).
  429: 'close other event streams using this key (console tabs, `events tail`, `rollouts watch`), or raise EVENTS_STREAM_MAX_PER_KEY on the control plane',
  422: 'fix the input named above (for a model: its format, shapes or self-test) and try again',
  503: 'the control plane or one of its services is down: see GET /health',
};

/** Any API failure as a CliError: the problem's title and detail, the field errors, and what to do. */
export function fromProblem(error: ApiProblemError): CliError {
  const { problem, status } = error;
  const fields = (problem.errors ?? []).map((e) => `\n  ${e.field}: ${e.message}`).join('');
  const message = `${problem.title}${problem.detail ? `: ${problem.detail}` : ''}${fields}`;
  return new CliError(message, exitCodeForStatus(status), HINTS[status] ?? (status >= 500 ? 'the control plane failed; see its logs' : undefined), { cause: error });
}

/** Maps anything thrown by a command to a CliError. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ApiProblemError) return fromProblem(error);
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) {
    const reason = error.cause instanceof Error ? error.cause.message : 'no answer';
    return new CliError(`cannot reach the control plane (${reason})`, ExitCode.unreachable, 'check the URL given to `edgefleet login` or EDGEFLEET_URL', { cause: error });
  }
  return new CliError(error instanceof Error ? error.message : String(error), ExitCode.failed, undefined, { cause: error });
}
