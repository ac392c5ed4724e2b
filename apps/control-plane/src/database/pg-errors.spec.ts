import { describe, expect, it } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { UnavailableError } from '#common';
import { domainErrorFromDatabase, isDatabaseUnavailable } from './pg-errors.js';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });
const wrapped = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a reset connection', withCode('ECONNRESET')],
    ['a server shutting down (57P01), wrapped by TypeORM', wrapped(withCode('57P01', 'terminating connection due to administrator command'))],
    ['a crashed server (57P02)', withCode('57P02')],
    ['a server in crash recovery (57P03)', withCode('57P03', 'the database system is in recovery mode')],
    ['a connection exception (class 08)', withCode('08006')],
    ['node-postgres losing the server under a query', new Error('Connection terminated unexpectedly')],
    ['a pool wait that timed out', new Error('timeout exceeded when trying to connect')],
  ])('is true for %s', (_, error) => expect(isDatabaseUnavailable(error)).toBe(true));

  it.each([
    ['a unique violation', wrapped(withCode('23505'))],
    ['a data exception', withCode('22003')],
    ['a syntax error', wrapped(withCode('42601'))],
    ['a plain error', new Error('boom')],
    ['a non-error', 'ECONNREFUSED'],
  ])('is false for %s', (_, error) => expect(isDatabaseUnavailable(error)).toBe(false));
});

describe('domainErrorFromDatabase', () => {
  it('turns an unreachable database into an UnavailableError (503) keeping the cause', () => {
    const cause = withCode('ECONNREFUSED');
    const error = domainErrorFromDatabase(cause);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error?.cause).toBe(cause);
  });

  it('names the database only when the error is the database’s: a bare socket error may be the object store’s or Redis’s', () => {
    expect(domainErrorFromDatabase(wrapped(withCode('57P01')))?.message).toMatch(/^the database is unavailable/);
    expect(domainErrorFromDatabase(new Error('Connection terminated unexpectedly'))?.message).toMatch(/^the database is unavailable/);
    expect(domainErrorFromDatabase(withCode('ECONNREFUSED'))?.message).toMatch(/GET \/health names it/);
  });
});
