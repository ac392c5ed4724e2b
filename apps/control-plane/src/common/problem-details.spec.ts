import { describe, expect, it } from '@jest/globals';
import { NotFoundException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '#common';
import { toProblemDetails } from './problem-details.js';

describe('toProblemDetails', () => {
  it('maps domain errors by kind, keeping field violations', () => {
    const p = toProblemDetails(new ValidationError('bad', [{ field: 'name', message: 'required' }]), '/v1/x');
    expect(p).toEqual({
      type: 'urn:edgefleet:problem:bad-request',
      title: 'Bad Request',
      status: 400,
      detail: 'bad',
      instance: '/v1/x',
      errors: [{ field: 'name', message: 'required' }],
    });
    expect(toProblemDetails(new NotFoundError('node', 'n1'), '/').status).toBe(404);
    expect(toProblemDetails(new ConflictError('dup'), '/').status).toBe(409);
    expect(toProblemDetails(new PayloadTooLargeError(10), '/').status).toBe(413);
  });

  it('maps Nest HTTP exceptions and body-parser errors', () => {
    expect(toProblemDetails(new NotFoundException('Cannot GET /nope'), '/nope')).toMatchObject({
      status: 404,
      detail: 'Cannot GET /nope',
    });
    const tooLarge = Object.assign(new Error('request entity too large'), { status: 413, expose: true, type: 'entity.too.large' });
    expect(toProblemDetails(tooLarge, '/')).toMatchObject({ status: 413, detail: 'request body exceeds the size limit' });
  });

  it('maps database errors that request data can cause to 4xx, naming a referencing table', () => {
    const pg = (fields: Record<string, string>) => new QueryFailedError('SELECT', [], Object.assign(new Error('pg'), fields));
    expect(toProblemDetails(pg({ code: '22003' }), '/')).toMatchObject({ status: 400 });
    expect(toProblemDetails(pg({ code: '22021' }), '/')).toMatchObject({ status: 400 });
    expect(toProblemDetails(pg({ code: '23503', table: 'rollout_nodes' }), '/')).toMatchObject({
      status: 409,
      detail: 'the resource is still referenced by rollout nodes',
    });
    expect(toProblemDetails(pg({ code: '40P01' }), '/').status).toBe(500);
  });

  it('hides the details of unexpected errors', () => {
    const p = toProblemDetails(new Error('connection string postgres://secret'), '/');
    expect(p.status).toBe(500);
    expect(JSON.stringify(p)).not.toContain('secret');
  });
});
