// The typed client of the control plane's REST API, shared by the CLI, the demo and (next) the console.
// The types are generated from the OpenAPI document: `npm run api:generate` rewrites schema.d.ts.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';
export type Schemas = components['schemas'];
export { nodePhase } from './rollout-node.js';
export type ApiClient = Client<paths>;
export type Problem = Schemas['ProblemDto'];

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:3000 */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Replaces the global fetch (tests, proxies). */
  readonly fetch?: typeof globalThis.fetch;
}

/** A client that sends the API key as a bearer token on every request. */
export function createApiClient(options: ApiClientOptions): ApiClient {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** An answer that was not 2xx, with its problem+json body (or one made up from the status when there was none). */
export class ApiProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
    this.name = 'ApiProblemError';
  }
}

const isProblem = (body: unknown): body is Problem =>
  typeof body === 'object' && body !== null && typeof (body as Partial<Problem>).title === 'string' && typeof (body as Partial<Problem>).status === 'number';

/** The problem of a failed answer: the body when it is problem+json, else one from the status alone. */
export function toProblem(status: number, body: unknown): Problem {
  if (isProblem(body)) return body;
  return { type: 'about:blank', title: `HTTP ${status}`, status, detail: typeof body === 'string' && body.length > 0 ? body.slice(0, 300) : undefined };
}

/**
 * The data of an openapi-fetch result, or an ApiProblemError: callers write
 * `const node = unwrap(await api.GET('/v1/nodes/{id}', …))` and handle failures in one place.
 */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  throw new ApiProblemError(result.response.status, toProblem(result.response.status, result.error));
}
