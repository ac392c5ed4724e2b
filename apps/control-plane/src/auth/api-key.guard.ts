import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ForbiddenError, UnauthenticatedError } from '#common';
import type { ApiRole } from './api-key.entity.js';
import { ApiKeysService } from './api-keys.service.js';
import { type AuthenticatedRequest, PUBLIC_ROUTE, REQUIRED_ROLE, roleSatisfies } from './principal.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Global guard: every route needs a bearer API key unless marked @Public(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match?.[1]) throw new UnauthenticatedError('missing bearer API key');
    const principal = await this.apiKeys.authenticate(match[1]);
    const required =
      this.reflector.getAllAndOverride<ApiRole>(REQUIRED_ROLE, targets) ?? (READ_METHODS.has(req.method) ? 'viewer' : 'operator');
    if (!roleSatisfies(principal.role, required)) {
      throw new ForbiddenError(`role '${principal.role}' cannot do this; it needs '${required}'`);
    }
    req.principal = principal;
    return true;
  }
}
