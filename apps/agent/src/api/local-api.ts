import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { InputSizeError, NoModelLoadedError } from '#inference';
import { type InferenceAnswer, InferenceOverloadedError, InferenceTimeoutError } from './inference-service.js';
import { parseInferRequest, RequestProblem } from './infer-request.js';
import type { LocalApiToken } from './local-api-token.js';
import { listenOnUnixSocket } from './local-api-socket.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** How much of a refused body is read and dropped before the connection is cut. */
const DISCARD_BYTES = 64 * 1024 * 1024;

export interface LocalApiHandlers {
  infer(input: Float32Array, inputRef?: string): Promise<InferenceAnswer>;
  status(): Record<string, unknown>;
  healthy(): boolean;
  /** Conditions that do not stop serving but need an operator (e.g. `root-expired`: no update is accepted). */
  warnings?(): string[];
}

/** An HTTP status with the RFC 7807 title it is answered with. */
class HttpProblem extends Error {
  readonly retryAfterSeconds: number | undefined;
  /** The WWW-Authenticate challenge of a 401. */
  readonly challenge: string | undefined;

  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    options?: { cause?: unknown; retryAfterSeconds?: number; challenge?: string },
  ) {
    super(detail, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.challenge = options?.challenge;
    this.name = 'HttpProblem';
  }
}

/** How a request reached the API: a browser can reach TCP on 127.0.0.1, never a Unix socket. */
type Listener = 'tcp' | 'unix-socket';

/**
 * Maps what a request ended with to its problem. Client mistakes are 4xx (and never reach or count
 * against the model); 503 without a model or past the in-flight cap (with Retry-After); model-side failures are 500, or 504 past the time bound.
 */
export function problemFor(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  if (error instanceof RequestProblem) return new HttpProblem(error.status, error.title, error.message, { cause: error });
  if (error instanceof InputSizeError) return new HttpProblem(400, 'Bad Request', `input: ${error.message}`, { cause: error });
  if (error instanceof NoModelLoadedError) return new HttpProblem(503, 'Service Unavailable', error.message, { cause: error });
  if (error instanceof InferenceOverloadedError) return new HttpProblem(503, 'Service Unavailable', error.message, { cause: error, retryAfterSeconds: error.retryAfterSeconds });
  if (error instanceof InferenceTimeoutError) return new HttpProblem(504, 'Gateway Timeout', error.message, { cause: error });
  return new HttpProblem(500, 'Internal Server Error', error instanceof Error ? error.message : 'inference failed', { cause: error });
}

/**
 * The on-device API, on 127.0.0.1 and/or a Unix domain socket: POST /v1/infer, GET /v1/status,
 * GET /v1/health. Bodies are bounded and validated before any model runs; every error is RFC 7807
 * problem+json.
 */
export class LocalApi {
  private readonly servers: Server[] = [];
  /** `127.0.0.1:<port>`, `localhost:<port>`, `[::1]:<port>`: the only Host values answered (set once listening). */
  private allowedHosts = new Set<string>();
  private token?: LocalApiToken;
  private readonly answers = new AnswerJson();

  constructor(private readonly handlers: LocalApiHandlers) {}

  /** From now on every request must carry `Authorization: Bearer <token>`. */
  requireToken(token: LocalApiToken): void {
    this.token = token;
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves with the port bound. */
  async listen(port: number): Promise<number> {
    const server = this.createServer('tcp');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    this.allowedHosts = new Set([`127.0.0.1:${bound}`, `localhost:${bound}`, `[::1]:${bound}`]);
    return bound;
  }

  /** Listens on a Unix domain socket at `path` with file mode `mode` (beside or instead of TCP). */
  async listenOnSocket(path: string, mode: number): Promise<void> {
    await listenOnUnixSocket(this.createServer('unix-socket'), path, mode);
  }

  async close(): Promise<void> {
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map((server) => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
  }

  private createServer(via: Listener): Server {
    const server = createServer((req, res) => this.handle(req, res, via));
    server.keepAliveTimeout = 30_000;
    this.servers.push(server);
    return server;
  }

  private handle(req: IncomingMessage, res: ServerResponse, via: Listener): void {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    try {
      this.refuseForeignCallers(req, via);
      this.requireCredentials(req);
      requireJsonBody(req);
      if (path === '/v1/infer' && req.method === 'POST') return this.infer(req, res);
      if (path === '/v1/status' && req.method === 'GET') return send(res, 200, JSON.stringify(this.handlers.status()));
      if (path === '/v1/health' && req.method === 'GET') {
        const healthy = this.handlers.healthy();
        const warnings = this.handlers.warnings?.() ?? [];
        return send(res, healthy ? 200 : 503, JSON.stringify({ status: healthy ? 'ok' : 'no model', ...(warnings.length > 0 ? { warnings } : {}) }));
      }
      throw new HttpProblem(404, 'Not Found', `no route ${req.method ?? ''} ${path}`);
    } catch (error) {
      sendProblem(req, res, problemFor(error));
    }
  }

  /**
   * Listening on 127.0.0.1 is not enough: a web page the device's browser opens can reach it, either
   * cross-origin (the browser sends Origin) or through DNS rebinding (its own name resolving to
   * 127.0.0.1, so the Host header names it). Only local processes naming a loopback host are answered;
   * these refusals come before any route, so they never reach or count against the model. A CORS
   * preflight carries an Origin too, so no page is ever told it may call. Over the Unix socket no
   * browser can connect and clients name whatever host they like, so Host is not checked there.
   */
  private refuseForeignCallers(req: IncomingMessage, via: Listener): void {
    if (req.headers.origin !== undefined) throw new HttpProblem(403, 'Forbidden', 'requests from web pages (with an Origin header) are not served');
    if (via === 'unix-socket') return;
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts.has(host)) throw new HttpProblem(421, 'Misdirected Request', 'the Host header must be 127.0.0.1, localhost or [::1] with this port');
  }

  /** With a token configured, only callers that could read the token file are served. */
  private requireCredentials(req: IncomingMessage): void {
    if (!this.token || this.token.matches(req.headers.authorization)) return;
    throw new HttpProblem(401, 'Unauthorized', 'send Authorization: Bearer <token>, the token being the content of the local API token file (re-read it after the agent restarts)', {
      challenge: 'Bearer realm="edgefleet-agent"',
    });
  }

  private infer(req: IncomingMessage, res: ServerResponse): void {
    const fail = (error: unknown) => sendProblem(req, res, problemFor(error));
    readBody(req, (error, body) => {
      if (error) return fail(error);
      let answer: Promise<InferenceAnswer>;
      try {
        const request = parseInferRequest(body);
        answer = this.handlers.infer(request.input, request.inputRef);
      } catch (parseError) {
        return fail(parseError);
      }
      answer.then((a) => send(res, 200, this.answers.encode(a)), fail);
    });
  }
}

/**
 * Every request but GET and HEAD must declare application/json, on every route: a web page can send
 * text/plain or a form without a CORS preflight, never application/json.
 */
function requireJsonBody(req: IncomingMessage): void {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  const type = mediaType(req.headers['content-type']);
  if (type !== 'application/json') throw new HttpProblem(415, 'Unsupported Media Type', `send application/json, not ${type || 'no content type'}`);
}

/** `application/json; charset=utf-8` → `application/json`. */
function mediaType(header: string | undefined): string {
  if (!header) return '';
  const semicolon = header.indexOf(';');
  return (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

/**
 * Collects the body with plain listeners (no async iterator on the request path). Past the bound it
 * answers 413 at once and discards the rest, so the client reads the answer on a connection still open
 * (closing it mid-upload makes clients fail with EPIPE instead); a client that keeps sending far beyond
 * is cut off.
 */
function readBody(req: IncomingMessage, done: (error: HttpProblem | undefined, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (finished) {
      if (size > DISCARD_BYTES) req.destroy();
      return;
    }
    if (size > MAX_BODY_BYTES) {
      finished = true;
      return done(new HttpProblem(413, 'Payload Too Large', `body over ${MAX_BODY_BYTES} bytes`), Buffer.alloc(0));
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(undefined, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
  });
  req.on('error', (error) => {
    if (finished) return;
    finished = true;
    done(new HttpProblem(400, 'Bad Request', 'the request body could not be read', { cause: error }), Buffer.alloc(0));
  });
}

/**
 * The answer's JSON, written by hand: the output is a Float32Array, serialised without an intermediate
 * array, and the serving model's JSON is kept for the model object it was made from (the same object
 * answers every request until a swap).
 */
class AnswerJson {
  private model?: InferenceAnswer['model'];
  private modelJson = '';

  encode(a: InferenceAnswer): string {
    let output = '';
    for (let i = 0; i < a.output.length; i++) output += i === 0 ? `${a.output[i]}` : `,${a.output[i]}`;
    if (this.model !== a.model) {
      this.modelJson = JSON.stringify(a.model);
      this.model = a.model;
    }
    return `{"output":[${output}],"topClass":${a.topClass},"confidence":${a.confidence},"latencyMs":${a.latencyMs},"model":${this.modelJson}}`;
  }
}

function send(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function sendProblem(req: IncomingMessage, res: ServerResponse, problem: HttpProblem): void {
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({
    type: `urn:edgefleet:problem:${problem.title.toLowerCase().replace(/ /g, '-')}`,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    instance: req.url,
  });
  // A body still arriving after the answer is discarded by Node before the connection's next request.
  const headers: Record<string, string | number> = { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) };
  if (problem.retryAfterSeconds !== undefined) headers['retry-after'] = problem.retryAfterSeconds;
  if (problem.challenge !== undefined) headers['www-authenticate'] = problem.challenge;
  res.writeHead(problem.status, headers);
  res.end(body);
}
