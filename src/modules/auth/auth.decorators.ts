import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';
import { Scope } from './api-key';
import { Principal } from './principal';
import type { EventCarrier } from './request-authorizer';

export const SCOPE_KEY = 'analytics:scope';
export const PUBLIC_KEY = 'analytics:public';
export const CARRIES_KEY = 'analytics:carries';

/** The scope a route needs (`admin` also grants it). Routes without one need `admin`. */
export const RequireScope = (scope: Scope) => SetMetadata(SCOPE_KEY, scope);
/** A route open to anyone (health probes). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
/** A route whose requests carry events, counted against the tenant's events/s limit. */
export const CarriesEvents = (carrier: EventCarrier) => SetMetadata(CARRIES_KEY, carrier);

export type AuthenticatedRequest = Request & { principal?: Principal };

/** The caller's principal, set by the auth guard. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new Error('CurrentPrincipal used on a route without authentication');
  return principal;
});
