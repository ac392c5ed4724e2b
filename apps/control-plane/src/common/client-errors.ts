import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ProblemDetails } from './problem-details.js';

/** Node's HTTP parser codes that mean "too large" rather than "malformed". */
const TOO_LARGE = new Set(['HPE_HEADER_OVERFLOW']);
const TIMEOUT = new Set(['ERR_HTTP_REQUEST_TIMEOUT']);

function answerFor(code: string | undefined): ProblemDetails {
  if (code && TOO_LARGE.has(code)) {
    return { type: 'urn:edgefleet:problem:request-header-fields-too-large', title: 'Request Header Fields Too Large', status: 431, detail: 'request headers exceed the size limit' };
  }
  if (code && TIMEOUT.has(code)) return { type: 'urn:edgefleet:problem:request-timeout', title: 'Request Timeout', status: 408, detail: 'the request was not received in time' };
  return { type: 'urn:edgefleet:problem:bad-request', title: 'Bad Request', status: 400, detail: 'malformed HTTP request' };
}

/**
 * Requests Node's HTTP parser refuses (a malformed request line, headers over the limit) never reach
 * Express, so the problem filter cannot answer them: Node would send a bare status line. This answers
 * them as problem+json too, then closes the connection (the parser cannot continue on it).
 */
export function answerClientErrorsAsProblems(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const problem = answerFor(error.code);
    const body = JSON.stringify(problem);
    socket.end(
      `HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
