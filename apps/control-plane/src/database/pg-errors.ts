import { QueryFailedError } from 'typeorm';
import { ConflictError, type EdgeFleetError, ValidationError } from '#common';

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
