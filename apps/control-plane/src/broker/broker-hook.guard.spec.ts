import { describe, expect, it } from '@jest/globals';
import { NotFoundException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { UnauthenticatedError } from '#common';
import { loadConfig } from '../config/config.js';
import { BrokerHookGuard } from './broker-hook.guard.js';

/** The context Nest builds for an HTTP request (its arguments: request, response, next), here a request with only headers. */
const context = (authorization?: string) => new ExecutionContextHost([{ headers: authorization === undefined ? {} : { authorization } }, {}, () => undefined]);
const guard = (hookSecret?: string) => new BrokerHookGuard(loadConfig(hookSecret === undefined ? {} : { BROKER_HOOK_SECRET: hookSecret }));
const SECRET = 's'.repeat(40);

describe('BrokerHookGuard', () => {
  it('keeps the hooks off (404 naming the variable) when no secret is configured, whatever the caller sends', () => {
    expect(() => guard().canActivate(context(`Bearer ${SECRET}`))).toThrow(NotFoundException);
    expect(() => guard().canActivate(context(`Bearer ${SECRET}`))).toThrow(/BROKER_HOOK_SECRET/);
  });

  it('lets in the configured bearer secret only', () => {
    expect(guard(SECRET).canActivate(context(`Bearer ${SECRET}`))).toBe(true);
    expect(() => guard(SECRET).canActivate(context())).toThrow(UnauthenticatedError);
    expect(() => guard(SECRET).canActivate(context(`Bearer ${SECRET}x`))).toThrow(UnauthenticatedError);
    expect(() => guard(SECRET).canActivate(context(SECRET))).toThrow(UnauthenticatedError);
  });
});
