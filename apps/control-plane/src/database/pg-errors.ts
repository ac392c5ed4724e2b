import { QueryFailedError } from 'typeorm';
import { ConflictError, type EdgeFleetError, UnavailableError, ValidationError } from '#common';

/** PostgreSQL's unique_violation: a concurrent writer got there first. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: string; constraint?: string };
  return driverError.code === '23505' && (constraint === undefined || driverError.constraint === constraint);
}

interface PgDriverError {
  code?: string;
  table?: string;
  constraint?: string;
}

/**
 * A safety net under the services' own checks: PostgreSQL errors that a request's data can cause become
 * domain errors (so a 4xx), anything else stays unexpected. Class 22 is "data exception" (a number out
 * of range, a byte the encoding refuses); 23503 is a row still referenced by another.
 */
export function domainErrorFromDatabase(error: unknown): EdgeFleetError | undefined {
  // A client should retry, not report a bug: 503 (a 500 said the request itself broke something). A bare
  // socket error may come from the object store or Redis as well as from PostgreSQL: name none of them
  // then, and send the operator to /health, which says which one is down.
  if (isDatabaseUnavailable(error)) {
    const sure = error instanceof QueryFailedError || sqlState(error) !== undefined || !hasSocketCode(error);
    return new UnavailableError(sure ? 'the database is unavailable; try again shortly' : 'a service the control plane depends on is unreachable (GET /health names it); try again shortly', { cause: error });
  }
  if (!(error instanceof QueryFailedError)) return undefined;
  const driverError = error.driverError as PgDriverError;
  const code = driverError.code ?? '';
  if (code.startsWith('22')) return new ValidationError('a value in the request is out of range or cannot be stored', [], { cause: error });
  if (code === '23503') {
    const by = driverError.table ? ` by ${driverError.table.replace(/_/g, ' ')}` : '';
    return new ConflictError(`the resource is still referenced${by}`, { cause: error });
  }
  if (code === '23505') return new ConflictError('the resource already exists', { cause: error });
  return undefined;
}

/**
 * Whether PostgreSQL refused a statement for the data in it: SQLSTATE class 22 (data exception: a number
 * out of range, a NUL byte, a string too long) or 23 (integrity constraint violation). Retrying the same
 * rows fails the same way, unlike a lost connection or a timeout. COPY errors come straight from the pg
 * client; others arrive wrapped in TypeORM's QueryFailedError.
 */
export function isDataException(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

function sqlState(error: unknown): string | undefined {
  const source = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  const code = (source as { code?: unknown } | null)?.code;
  // SQLSTATEs are five characters; Node's own errors (ECONNRESET) have codes too, never of this shape.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Node's socket errors: the server refused, dropped or never answered the connection. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function hasSocketCode(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SOCKET_CODES.has(code);
}
/** What node-postgres throws (without a code) when the server goes away under a query or a pool wait times out. */
const CLIENT_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect$/, /^Client has encountered a connection error and is not queryable$/];

/**
 * Whether the database could not be reached or went away, rather than refusing the statement: a
 * socket error, SQLSTATE class 08 (connection exception), 57P01–57P03 (the server is shutting down,
 * crashed, or still starting: crash recovery after a restart), or node-postgres's own "connection
 * terminated". The same request succeeds once the server is back.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const source = error instanceof QueryFailedError ? (error.driverError as unknown) : error;
  // Shape, not `instanceof Error`: socket errors come from Node's own realm (not the same Error under a test's VM context).
  if (typeof source !== 'object' || source === null) return false;
  const { code, message } = source as { code?: unknown; message?: unknown };
  if (typeof code === 'string') return SOCKET_CODES.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code);
  return typeof message === 'string' && CLIENT_MESSAGES.some((pattern) => pattern.test(message));
}

/** SQLSTATE 55P03: a lock was not granted within `lock_timeout` (the statement gave way; a later run retries). */
export function isLockTimeout(error: unknown): boolean {
  return sqlState(error) === '55P03';
}

/** SQLSTATE 57014: the statement was cancelled, by `statement_timeout` here (the caller retries smaller or later). */
export function isStatementTimeout(error: unknown): boolean {
  return sqlState(error) === '57014';
}
