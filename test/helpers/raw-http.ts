import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/**
 * One HTTP request with full control over what is sent: `body` is written as is, and with `cut` the
 * connection is destroyed after writing instead of ending the request (a client that went away
 * mid-upload). Resolves with the answer, or undefined when the connection ended (or idled past
 * `timeoutMs`) without one.
 */
export function rawRequest(
  baseUrl: string,
  options: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string; cut?: boolean; timeoutMs?: number },
): Promise<RawAnswer | undefined> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: options.method, path: options.path, headers: options.headers, timeout: options.timeoutMs ?? 15_000 }, (res) => {
      // An event stream never ends: its status and headers are the answer.
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: '' });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    if (options.body !== undefined) req.write(options.body);
    if (options.cut) req.destroy();
    else req.end();
  });
}

/** A multipart/form-data body with text fields and one file part, optionally without its closing boundary. */
export function multipartBody(boundary: string, fields: Record<string, string>, file: { name: string; bytes: Buffer }, truncate = false): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="model.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`));
  parts.push(file.bytes);
  if (!truncate) parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

/** Writes bytes on a fresh TCP connection (no HTTP client in the way) and returns all that comes back. */
export function rawSocket(baseUrl: string, bytes: string | Buffer, timeoutMs = 10_000): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => socket.write(bytes));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', () => undefined);
  });
}

/**
 * A client that goes away mid-upload: sends the request head (declaring `declaredBytes` of body, more
 * than follows), then `bytes`; once `reached` holds, stops sending for good (FIN) and waits until the
 * server has closed the connection, i.e. is done with the request.
 */
export async function cutUpload(
  baseUrl: string,
  request: { path: string; headers: Record<string, string>; declaredBytes: number; bytes: Buffer },
  reached: () => Promise<boolean>,
  waitForReached: (probe: () => Promise<boolean>) => Promise<unknown>,
): Promise<void> {
  const url = new URL(baseUrl);
  const socket: Socket = connect({ host: url.hostname, port: Number(url.port) });
  socket.on('error', () => undefined);
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const headers = Object.entries({ Host: url.host, ...request.headers, 'Content-Length': String(request.declaredBytes) }).map(([k, v]) => `${k}: ${v}\r\n`);
  const head = `POST ${request.path} HTTP/1.1\r\n${headers.join('')}\r\n`;
  await new Promise<void>((resolve, reject) => socket.write(Buffer.concat([Buffer.from(head), request.bytes]), (error) => (error ? reject(error) : resolve())));
  await waitForReached(reached);
  socket.end();
  await closed;
}
