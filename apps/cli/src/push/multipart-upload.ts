import { ApiProblemError, type Schemas, toProblem } from '#api-client';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';

export interface UploadRequest {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly model: string;
  /** Text fields; objects are sent JSON-encoded (the control plane decodes metrics, preprocessing, selfTest, skipSelfTest). */
  readonly fields: Record<string, string | number | boolean | object | undefined>;
  readonly filePath: string;
  /** Called as bytes of the body leave: (sent, total). */
  readonly onProgress?: (sent: number, total: number) => void;
}

const CRLF = '\r\n';

/**
 * POST /v1/models/{name}/versions as a streamed multipart body with a known length, so progress is the
 * bytes written to the socket. openapi-fetch would buffer the file in a FormData and report nothing.
 */
export async function uploadVersion(req: UploadRequest): Promise<Schemas['ModelVersionDto']> {
  const boundary = `edgefleet-${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    Object.entries(req.fields)
      .filter((entry): entry is [string, string | number | boolean | object] => entry[1] !== undefined)
      .map(([name, value]) => `--${boundary}${CRLF}Content-Disposition: form-data; name="${name}"${CRLF}${CRLF}${typeof value === 'object' ? JSON.stringify(value) : String(value)}${CRLF}`)
      .join('') +
      `--${boundary}${CRLF}Content-Disposition: form-data; name="artifact"; filename="${basename(req.filePath).replace(/"/g, '')}"${CRLF}Content-Type: application/octet-stream${CRLF}${CRLF}`,
  );
  const tail = Buffer.from(`${CRLF}--${boundary}--${CRLF}`);
  const fileSize = (await stat(req.filePath)).size;
  const total = head.length + fileSize + tail.length;
  const url = new URL(`${req.baseUrl.replace(/\/+$/, '')}/v1/models/${encodeURIComponent(req.model)}/versions`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${req.apiKey}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': total, Accept: 'application/json' },
    });
    outgoing.on('error', reject);
    outgoing.on('response', (res) => readAnswer(res).then(resolve, reject));
    streamBody(outgoing, [head, tail], req.filePath, total, req.onProgress).catch((error: unknown) => outgoing.destroy(error as Error));
  });
}

async function streamBody(out: NodeJS.WritableStream & { writableEnded: boolean }, [head, tail]: Buffer[], path: string, total: number, onProgress?: (sent: number, total: number) => void): Promise<void> {
  let sent = 0;
  const write = async (chunk: Buffer) => {
    sent += chunk.length;
    // Respect backpressure: progress then follows what the socket takes, not what was read from disk.
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    onProgress?.(sent, total);
  };
  await write(head as Buffer);
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    // The control plane may answer (and close) early, e.g. 404 before reading the body: stop writing.
    if (out.writableEnded) return;
    await write(chunk as Buffer);
  }
  await write(tail as Buffer);
  out.end();
}

async function readAnswer(res: IncomingMessage): Promise<Schemas['ModelVersionDto']> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: toProblem keeps the text
  }
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return body as Schemas['ModelVersionDto'];
  throw new ApiProblemError(status, toProblem(status, body));
}
