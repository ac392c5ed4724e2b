import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';

export class FieldViolationDto {
  @ApiProperty({ example: 'selfTest.input' }) field!: string;
  @ApiProperty({ example: 'must be an array of numbers' }) message!: string;
}

/** RFC 7807 problem details: every 4xx and 5xx of the API has this body (application/problem+json). */
export class ProblemDto {
  @ApiProperty({ example: 'urn:edgefleet:problem:not-found', description: 'urn:edgefleet:problem:<title, kebab-case>' }) type!: string;
  @ApiProperty({ example: 'Not Found' }) title!: string;
  @ApiProperty({ example: 404 }) status!: number;
  @ApiPropertyOptional({ example: "rollout '0b5c…' not found", description: 'What went wrong, in words' }) detail?: string;
  @ApiPropertyOptional({ example: '/v1/rollouts/0b5c…', description: 'The request path' }) instance?: string;
  @ApiPropertyOptional({ type: [FieldViolationDto], description: 'Each invalid field (400 only)' }) errors?: FieldViolationDto[];
}

export class SignatureDto {
  @ApiProperty({ description: 'sha256 of the signing key\'s SPKI' }) keyId!: string;
  @ApiProperty({ description: 'Ed25519 signature over the canonical JSON of `signed`, base64' }) sig!: string;
}

/** A signed document, TUF style: the payload and detached signatures over its canonical bytes. */
export class SignedEnvelopeDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The signed document (a root, a manifest, ...)' }) signed!: Record<string, unknown>;
  @ApiProperty({ type: [SignatureDto] }) signatures!: SignatureDto[];
}

/** The problems a route can answer, with what each means in general; `ApiProblems` documents them. */
const PROBLEMS = {
  400: 'The input is invalid: `detail` says why and `errors` names each field',
  401: 'No API key, or an unknown or revoked one',
  403: "The key's role is below what the route needs (viewer < operator < admin)",
  404: 'The resource does not exist',
  409: 'The request conflicts with the current state (e.g. a duplicate name, a transition the state forbids)',
  413: 'The body exceeds its size limit',
  422: 'The input is well-formed but cannot be accepted (e.g. an artifact its engine cannot load and run)',
  429: 'A bound on use is reached (e.g. open event streams per API key, results requests per node); a rate limit sends Retry-After (seconds)',
} as const;
export type ProblemStatus = keyof typeof PROBLEMS;

/** Documents the problem+json responses a route can return. */
export function ApiProblems(...statuses: ProblemStatus[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ...statuses.map((status) =>
      ApiResponse({ status, description: PROBLEMS[status], content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDto) } } } }),
    ),
  );
}

/** Summary (one line, shown in lists) and description (the rules a caller needs) of an operation. */
export const ApiDoc = (summary: string, description: string) => ApiOperation({ summary, description });

/** A read for any key: 401 without one. */
export const ApiRead = (...more: ProblemStatus[]) => ApiProblems(400, 401, ...more);
/** A mutation: operator (or admin) keys only. */
export const ApiWrite = (...more: ProblemStatus[]) => ApiProblems(400, 401, 403, ...more);
