import { CanActivate, ExecutionContext, Inject, Injectable, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { Scope } from './api-key';
import { AuthenticatedRequest, CARRIES_KEY, PUBLIC_KEY, SCOPE_KEY } from './auth.decorators';
import { EventCarrier, eventsCarried, RequestAuthorizer } from './request-authorizer';

/** Provided (true) when the service's modules are mounted in a host application (AnalyticsModule). */
export const HOSTED = Symbol('AnalyticsHosted');
/** Where the service's own controllers live. */
const SERVICE_PREFIX = 'api/v1/analytics';

/**
 * Every Nest route: routes are closed unless marked @Public(); an unmarked route needs admin.
 * The checks themselves (credential, scope, CORS origin, rate limits) are the RequestAuthorizer's.
 * Mounted in a host application, it guards the service's routes only; the host's are the host's.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authorizer: RequestAuthorizer,
    @Optional() @Inject(HOSTED) private readonly hosted: boolean = false,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.hosted && !String(Reflect.getMetadata('path', ctx.getClass()) ?? '').startsWith(SERVICE_PREFIX))
      return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const needed = this.reflector.getAllAndOverride<Scope>(SCOPE_KEY, targets) ?? 'admin';
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();
    const carrier = this.reflector.get<EventCarrier | undefined>(CARRIES_KEY, ctx.getHandler());
    const events = carrier ? eventsCarried(carrier, req.body) : 0;
    req.principal = await this.authorizer.authorize(req, needed, events, (k, v) => res.setHeader(k, v));
    return true;
  }
}
