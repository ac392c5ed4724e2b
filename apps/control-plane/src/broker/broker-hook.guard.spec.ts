import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { NotFoundException } from '@nestjs/common';
import { UnauthenticatedError } from '#common';
import type { AppConfig } from '../config/config.js';
import { BrokerHookGuard } from './broker-hook.guard.js';

const context = (authorization?: string) =>
  ({ switchToHttp: () => ({ getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }) }) }) as unknown as ExecutionContext;
const guard = (hookSecret?: string) => new BrokerHookGuard({ mqtt: { hookSecret } } as AppConfig);
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
