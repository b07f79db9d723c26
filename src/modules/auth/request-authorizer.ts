import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { ProblemException } from '../../common/problem';
import { grants, Scope } from './api-key';
import { MalformedCredential, presentedCredential } from './credential-extractor';
import { CredentialError, CredentialService } from './credential.service';
import { Principal } from './principal';
import { RateLimiter } from './rate-limiter';

const MISSING = 'Send an API key as "Authorization: Bearer <key>" or "X-Analytics-Key: <key>".';

/** What authorization reads of a request: its headers, the scheme it arrived by, and its TCP peer. */
export interface CallerRequest {
  headers: IncomingHttpHeaders;
  protocol: string;
  socket?: { remoteAddress?: string };
}

export type SetHeader = (name: string, value: string) => void;

/** What an ingestion request carries: one event, a batch of them, or an OTLP export (spans or log records). */
export type EventCarrier = 'single' | 'batch' | 'otlp';

/** How many events a request counts against the events/s limit: a batch's events, an export's spans or records, else one. */
export function eventsCarried(carrier: EventCarrier, body: unknown): number {
  if (carrier === 'otlp') {
    const items = (body as { items?: unknown } | null | undefined)?.items;
    return typeof items === 'number' ? items : 1;
  }
  const events = (body as { events?: unknown } | null | undefined)?.events;
  return carrier === 'batch' && Array.isArray(events) ? events.length : 1;
}

/**
 * Who is calling (API key or JWT), may they (scope, CORS origin), and are they within their
 * tenant's rate limits. Shared by the auth guard of every Nest route and by the ingest route,
 * which answers before Express; throws a ProblemException naming the reason.
 */
@Injectable()
export class RequestAuthorizer {
  constructor(
    private readonly credentials: CredentialService,
    private readonly limiter: RateLimiter,
  ) {}

  /** `events` is how many events the request carries (0 when it carries none), for the events/s limit. */
  async authorize(req: CallerRequest, needed: Scope, events: number, setHeader: SetHeader): Promise<Principal> {
    const principal = await this.admit(req, needed, setHeader);
    await this.limit(events, setHeader, principal);
    return principal;
  }

  /**
   * What the headers alone decide, in {@link authorize}'s order: credential, scope, CORS origin.
   * The ingest route calls it before reading the body, then {@link limit} with the body's events.
   */
  async admit(req: CallerRequest, needed: Scope, setHeader: SetHeader): Promise<Principal> {
    const principal = await this.authenticate(req);
    if (!grants(principal.scopes, needed)) {
      throw new ProblemException(
        403,
        'insufficient-scope',
        'Forbidden',
        `This endpoint needs the "${needed}" scope; this credential has ${principal.scopes.join(', ')}.`,
        { required_scope: needed },
      );
    }
    checkOrigin(req, setHeader, principal);
    return principal;
  }

  private async authenticate(req: CallerRequest): Promise<Principal> {
    try {
      const credential = presentedCredential(req);
      if (!credential) throw unauthorized(MISSING);
      return await this.credentials.resolve(credential, req.socket?.remoteAddress);
    } catch (err) {
      if (err instanceof MalformedCredential) throw unauthorized(err.message);
      if (err instanceof CredentialError) throw credentialProblem(err);
      throw err;
    }
  }

  /** The tenant's requests/s and events/s limits, for a request carrying `events` events. */
  async limit(events: number, setHeader: SetHeader, p: Principal): Promise<void> {
    const d = await this.limiter.take(p.tenantId, events, p.limits);
    const resetS = Math.max(1, Math.ceil(d.resetMs / 1000));
    setHeader('RateLimit-Limit', String(d.limit));
    setHeader('RateLimit-Remaining', String(d.remaining));
    setHeader('RateLimit-Reset', String(resetS));
    if (!d.allowed) {
      const detail =
        d.exceeded === 'events'
          ? `This tenant may send ${p.limits.eps} events per second; this request's ${events} would pass it. Retry after ${resetS} s${events > p.limits.eps ? ' with a smaller batch' : ''}.`
          : `This tenant may make ${p.limits.rps} requests per second. Retry after ${resetS} s.`;
      throw new ProblemException(
        429,
        'rate-limited',
        'Too many requests',
        detail,
        { limit_requests_per_second: p.limits.rps, limit_events_per_second: p.limits.eps },
        { 'Retry-After': String(resetS) },
      );
    }
  }
}

/** The answer to a refused credential: 401, 429 (failures throttled) or 503. */
export function credentialProblem(err: CredentialError): ProblemException {
  if (err.status === 401) return unauthorized(err.message);
  if (err.status === 429) {
    return new ProblemException(
      429,
      'auth-throttled',
      'Too many failed authentications',
      err.message,
      {},
      { 'Retry-After': String(err.retryAfterS ?? 1) },
    );
  }
  return new ProblemException(
    503,
    'unavailable',
    'Service unavailable',
    err.message,
    {},
    { 'Retry-After': String(err.retryAfterS ?? 1) },
  );
}

function unauthorized(detail: string): ProblemException {
  return new ProblemException(
    401,
    'unauthorized',
    'Unauthorized',
    detail,
    {},
    { 'WWW-Authenticate': 'Bearer realm="analytics"' },
  );
}

/**
 * Browsers send Origin on cross-site requests: the tenant's allow-list decides whether it may
 * call, and whether the browser may read the answer. Same-origin requests (Swagger UI) pass.
 */
function checkOrigin(req: CallerRequest, setHeader: SetHeader, p: Principal): void {
  // Whether the answer may be read cross-site depends on the Origin, with or without one.
  setHeader('Vary', 'Origin');
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return;
  if (origin === `${req.protocol}://${req.headers.host}`) return;
  const sent = normalizeOrigin(origin);
  if (!p.corsOrigins.includes('*') && !p.corsOrigins.some((o) => normalizeOrigin(o) === sent)) {
    throw new ProblemException(
      403,
      'origin-forbidden',
      'Forbidden',
      `Origin ${origin.slice(0, 200)} is not in this tenant's CORS allow-list.`,
    );
  }
  setHeader('Access-Control-Allow-Origin', origin);
  setHeader('Access-Control-Expose-Headers', 'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After');
}

/**
 * An origin as browsers serialize it: scheme and host lower-cased, the scheme's default port and a
 * trailing slash dropped (https://Shop.Example.com:443/ is https://shop.example.com); anything
 * that is not a URL with a host ("null") is compared as it is.
 */
export function normalizeOrigin(origin: string): string {
  try {
    const o = new URL(origin).origin;
    return o === 'null' ? origin : o;
  } catch {
    return origin;
  }
}
