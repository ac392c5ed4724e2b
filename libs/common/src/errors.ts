/**
 * Domain errors shared by the control plane and the agent. Services throw these; the HTTP layer maps
 * `kind` to a status code and an RFC 7807 body, so no service ever throws an HTTP exception.
 */
export type ErrorKind =
  | 'validation'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'gone'
  | 'payload-too-large'
  | 'unprocessable'
  | 'too-many-requests'
  | 'unavailable';

export interface FieldViolation {
  readonly field: string;
  readonly message: string;
}

export abstract class EdgeFleetError extends Error {
  abstract readonly kind: ErrorKind;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ValidationError extends EdgeFleetError {
  readonly kind = 'validation';
  constructor(
    message: string,
    readonly violations: readonly FieldViolation[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class UnauthenticatedError extends EdgeFleetError {
  readonly kind = 'unauthenticated';
}

export class ForbiddenError extends EdgeFleetError {
  readonly kind = 'forbidden';
}

export class NotFoundError extends EdgeFleetError {
  readonly kind = 'not-found';
  constructor(
    readonly resource: string,
    readonly id: string,
    options?: { cause?: unknown },
  ) {
    super(`${resource} '${id}' not found`, options);
  }
}

export class ConflictError extends EdgeFleetError {
  readonly kind = 'conflict';
}

export class GoneError extends EdgeFleetError {
  readonly kind = 'gone';
}

export class PayloadTooLargeError extends EdgeFleetError {
  readonly kind = 'payload-too-large';
  constructor(
    readonly limitBytes: number,
    options?: { cause?: unknown },
  ) {
    super(`payload exceeds the limit of ${limitBytes} bytes`, options);
  }
}

/** Well-formed input whose content cannot be used (e.g. an artifact its declared engine cannot load). */
export class UnprocessableError extends EdgeFleetError {
  readonly kind = 'unprocessable';
}

/** A bound on use was reached (e.g. event streams per API key, a rate limit); `retryAfterSeconds` when known. */
export class TooManyRequestsError extends EdgeFleetError {
  readonly kind = 'too-many-requests';
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class UnavailableError extends EdgeFleetError {
  readonly kind = 'unavailable';
}
