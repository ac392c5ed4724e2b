import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** An enrolment answer is a few KiB; anything far beyond is refused rather than buffered. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** The answer grew past the bound: the request is aborted and nothing is parsed. */
export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is over ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/**
 * POSTs a JSON body with node:http(s) and returns the status and the parsed answer (`{}` when it is not
 * JSON). Not `fetch`: loading undici for the one enrolment request keeps ≈ 18 MB resident for the rest
 * of the agent's life (measured with the systemd unit's settings), a fifth of the agent's memory budget.
 * An answer over `maxBytes` rejects with ResponseTooLargeError.
 */
export function postJson(url: URL, body: unknown, timeoutMs: number, maxBytes = MAX_ANSWER_BYTES): Promise<{ status: number; ok: boolean; json: unknown }> {
  return requestJson(url, Buffer.from(JSON.stringify(body)), timeoutMs, maxBytes);
}

/** GETs a JSON document the same way (e.g. a root version, while re-enrolment walks the chain). */
export function getJson(url: URL, timeoutMs: number, maxBytes = MAX_ANSWER_BYTES): Promise<{ status: number; ok: boolean; json: unknown }> {
  return requestJson(url, undefined, timeoutMs, maxBytes);
}

function requestJson(url: URL, payload: Buffer | undefined, timeoutMs: number, maxBytes: number): Promise<{ status: number; ok: boolean; json: unknown }> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : { accept: 'application/json' };
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: payload ? 'POST' : 'GET', headers, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            reject(new ResponseTooLargeError(maxBytes));
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          if (size > maxBytes) return;
          let json: unknown = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            // not JSON: the status says enough
          }
          const status = res.statusCode ?? 0;
          resolve({ status, ok: status >= 200 && status < 300, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
