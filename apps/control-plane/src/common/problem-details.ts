import { HttpException } from '@nestjs/common';
import { EdgeFleetError, type ErrorKind, type FieldViolation, ValidationError } from '#common';
import { domainErrorFromDatabase } from '../database/pg-errors.js';

/** RFC 7807 problem details, served as application/problem+json. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: readonly FieldViolation[];
}

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  validation: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  gone: 410,
  'payload-too-large': 413,
  unprocessable: 422,
  'too-many-requests': 429,
  unavailable: 503,
};

const TITLE_BY_STATUS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const typeFor = (status: number) => `urn:edgefleet:problem:${(TITLE_BY_STATUS[status] ?? `http-${status}`).toLowerCase().replace(/ /g, '-')}`;

function problem(status: number, detail: string | undefined, instance: string): ProblemDetails {
  return { type: typeFor(status), title: TITLE_BY_STATUS[status] ?? 'Error', status, detail, instance };
}

/** Errors raised by Express middleware (body-parser) carry an HTTP status and say whether to expose it. */
interface HttpLikeError {
  status: number;
  expose?: boolean;
  message: string;
  type?: string;
}

function isHttpLikeError(e: unknown): e is HttpLikeError {
  return e instanceof Error && typeof (e as Partial<HttpLikeError>).status === 'number';
}

function httpExceptionDetail(e: HttpException): string {
  const body = e.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : e.message;
}

/** Maps any thrown value to a problem; unknown errors become a 500 that reveals nothing internal. */
export function toProblemDetails(error: unknown, instance: string): ProblemDetails {
  const fromDatabase = domainErrorFromDatabase(error);
  if (fromDatabase) return toProblemDetails(fromDatabase, instance);
  if (error instanceof EdgeFleetError) {
    const p = problem(STATUS_BY_KIND[error.kind], error.message, instance);
    if (error instanceof ValidationError && error.violations.length > 0) p.errors = error.violations;
    return p;
  }
  if (error instanceof HttpException) return problem(error.getStatus(), httpExceptionDetail(error), instance);
  if (isHttpLikeError(error) && error.status >= 400 && error.status < 500) {
    const detail = error.type === 'entity.too.large' ? 'request body exceeds the size limit' : error.message;
    return problem(error.status, error.expose === false ? undefined : detail, instance);
  }
  return problem(500, 'an unexpected error occurred', instance);
}
