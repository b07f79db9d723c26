import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { ProblemException } from '../../common/problem';
import { grants, Scope } from './api-key';
import { AuthenticatedRequest, PUBLIC_KEY, SCOPE_KEY } from './auth.decorators';
import { presentedCredential } from './credential-extractor';
import { CredentialError, CredentialService } from './credential.service';
import { Principal } from './principal';
import { RateLimiter } from './rate-limiter';

const MISSING = 'Send an API key as "Authorization: Bearer <key>" or "X-Analytics-Key: <key>".';

/**
 * Every route: who is calling (API key or JWT), may they (scope, CORS origin), and are they within
 * their tenant's rate limits. Routes are closed unless marked @Public(); an unmarked route needs admin.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly credentials: CredentialService,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const needed = this.reflector.getAllAndOverride<Scope>(SCOPE_KEY, targets) ?? 'admin';
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();

    const principal = await this.authenticate(req);
    if (!grants(principal.scopes, needed)) {
      throw new ProblemException(403, 'insufficient-scope', 'Forbidden',
        `This endpoint needs the "${needed}" scope; this credential has ${principal.scopes.join(', ')}.`, { required_scope: needed });
    }
    checkOrigin(req, res, principal);
    await this.limit(req, res, principal);
    req.principal = principal;
    return true;
  }

  private async authenticate(req: AuthenticatedRequest): Promise<Principal> {
    const credential = presentedCredential(req);
    if (!credential) throw unauthorized(MISSING);
    try {
      return await this.credentials.resolve(credential);
    } catch (err) {
      if (err instanceof CredentialError) {
        if (err.status === 401) throw unauthorized(err.message);
        throw new ProblemException(503, 'unavailable', 'Service unavailable', err.message, {}, { 'Retry-After': '1' });
      }
      throw err;
    }
  }

  private async limit(req: AuthenticatedRequest, res: Response, p: Principal): Promise<void> {
    const body = req.body as { events?: unknown } | undefined;
    const events = req.method === 'POST' && req.path.startsWith('/api/v1/analytics/events')
      ? (Array.isArray(body?.events) ? body!.events.length : 1)
      : 0;
    const d = await this.limiter.take(p.tenantId, events, p.limits);
    const resetS = Math.max(1, Math.ceil(d.resetMs / 1000));
    res.setHeader('RateLimit-Limit', String(d.limit));
    res.setHeader('RateLimit-Remaining', String(d.remaining));
    res.setHeader('RateLimit-Reset', String(resetS));
    if (!d.allowed) {
      const detail = d.exceeded === 'events'
        ? `This tenant may send ${p.limits.eps} events per second; this request's ${events} would pass it. Retry after ${resetS} s${events > p.limits.eps ? ' with a smaller batch' : ''}.`
        : `This tenant may make ${p.limits.rps} requests per second. Retry after ${resetS} s.`;
      throw new ProblemException(429, 'rate-limited', 'Too many requests', detail,
        { limit_requests_per_second: p.limits.rps, limit_events_per_second: p.limits.eps }, { 'Retry-After': String(resetS) });
    }
  }
}

function unauthorized(detail: string): ProblemException {
  return new ProblemException(401, 'unauthorized', 'Unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer realm="analytics"' });
}

/**
 * Browsers send Origin on cross-site requests: the tenant's allow-list decides whether it may
 * call, and whether the browser may read the answer. Same-origin requests (Swagger UI) pass.
 */
function checkOrigin(req: AuthenticatedRequest, res: Response, p: Principal): void {
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return;
  if (origin === `${req.protocol}://${req.get('host')}`) return;
  if (!p.corsOrigins.includes(origin) && !p.corsOrigins.includes('*')) {
    throw new ProblemException(403, 'origin-forbidden', 'Forbidden',
      `Origin ${origin.slice(0, 200)} is not in this tenant's CORS allow-list.`);
  }
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', 'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After');
}
