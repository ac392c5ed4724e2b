import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { NoModelLoadedError } from '#inference';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const inferRequest = z.strictObject({ input: z.array(z.number()).min(1).max(1_000_000), inputRef: z.string().max(200).optional() });

export interface InferenceAnswer {
  readonly output: number[];
  readonly topClass: number;
  readonly confidence: number;
  readonly latencyMs: number;
  readonly model: { sha256: string; name: string; version: string; variant: string };
}

export interface LocalApiHandlers {
  infer(input: Float32Array, inputRef?: string): Promise<InferenceAnswer>;
  status(): Record<string, unknown>;
  healthy(): boolean;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
  }
}

/**
 * The on-device API, on 127.0.0.1 only: POST /v1/infer, GET /v1/status, GET /v1/health. Bodies are
 * bounded and validated; every error is RFC 7807 problem+json.
 */
export class LocalApi {
  private server?: Server;

  constructor(private readonly handlers: LocalApiHandlers) {}

  async listen(port: number): Promise<number> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const route = `${req.method} ${new URL(req.url ?? '/', 'http://localhost').pathname}`;
      if (route === 'POST /v1/infer') return send(res, 200, await this.infer(req));
      if (route === 'GET /v1/status') return send(res, 200, this.handlers.status());
      if (route === 'GET /v1/health') return send(res, this.handlers.healthy() ? 200 : 503, { status: this.handlers.healthy() ? 'ok' : 'no model' });
      throw new HttpProblem(404, 'Not Found', `no route ${route}`);
    } catch (error) {
      const problem =
        error instanceof HttpProblem
          ? error
          : error instanceof NoModelLoadedError
            ? new HttpProblem(503, 'Service Unavailable', error.message)
            : new HttpProblem(500, 'Internal Server Error', (error as Error).message);
      res.writeHead(problem.status, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: `urn:edgefleet:problem:${problem.title.toLowerCase().replace(/ /g, '-')}`, title: problem.title, status: problem.status, detail: problem.message, instance: req.url }));
    }
  }

  private async infer(req: IncomingMessage): Promise<InferenceAnswer> {
    const body = await readBody(req);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new HttpProblem(400, 'Bad Request', 'body is not JSON');
    }
    const parsed = inferRequest.safeParse(json);
    if (!parsed.success) throw new HttpProblem(400, 'Bad Request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    return this.handlers.infer(Float32Array.from(parsed.data.input), parsed.data.inputRef);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpProblem(413, 'Payload Too Large', `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
