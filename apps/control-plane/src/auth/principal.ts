import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';
import type { ApiRole } from './api-key.entity.js';

/** Who is calling: recorded as the actor of every mutation in the audit log. */
export interface Principal {
  readonly actor: string;
  readonly role: ApiRole;
}

export type AuthenticatedRequest = Request & { principal?: Principal };

const ROLE_RANK: Record<ApiRole, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleSatisfies(role: ApiRole, required: ApiRole): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[required];
}

export const PUBLIC_ROUTE = 'edgefleet:public';
export const REQUIRED_ROLE = 'edgefleet:required-role';

/** The route authenticates by other means (an enrolment token) or is meant for probes. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** Minimum role for a route. Without it: viewer for reads, operator for anything that mutates. */
export const RequireRole = (role: ApiRole) => SetMetadata(REQUIRED_ROLE, role);

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});
