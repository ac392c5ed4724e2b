import { type CanActivate, type ExecutionContext, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Request } from 'express';
import { secretsEqual, UnauthenticatedError } from '#common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/**
 * The broker hooks answer only the broker: it sends `Authorization: Bearer <BROKER_HOOK_SECRET>` (a
 * header of its HTTP authenticator's config). Off (404) unless the secret is configured.
 */
@Injectable()
export class BrokerHookGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const secret = this.config.mqtt.hookSecret;
    if (secret === undefined) throw new NotFoundException('the broker hooks are off: set BROKER_HOOK_SECRET (docs/scaling.md#a-clustered-broker)');
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1] || !secretsEqual(match[1], secret)) throw new UnauthenticatedError('missing or wrong broker hook secret');
    return true;
  }
}
