import { ValidationPipe, type ValidationError as ClassValidatorError } from '@nestjs/common';
import { type FieldViolation, ValidationError } from '#common';

function flatten(errors: readonly ClassValidatorError[], parent = ''): FieldViolation[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

export function toValidationError(errors: readonly ClassValidatorError[]): ValidationError {
  const violations = flatten(errors);
  return new ValidationError(violations.map((v) => v.message).join('; ') || 'invalid request', violations);
}

/** Every body and query is validated; unknown fields are rejected rather than silently dropped. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    exceptionFactory: (errors) => toValidationError(errors),
  });
}
