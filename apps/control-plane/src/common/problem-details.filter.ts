import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TooManyRequestsError } from '#common';
import { toProblemDetails } from './problem-details.js';

/** The one place where errors become HTTP responses. Expected failures log at info, the rest at error. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const problem = toProblemDetails(error, req.originalUrl);
    if (problem.status >= 500) this.logger.error({ err: error, path: req.originalUrl }, 'request failed');
    else this.logger.log({ status: problem.status, path: req.originalUrl, detail: problem.detail }, 'request rejected');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (problem.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error instanceof TooManyRequestsError && error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }
}
