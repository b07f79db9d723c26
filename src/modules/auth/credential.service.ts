import { isUuid } from '../../common/validation';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DatabaseUnavailable, PostgresBreaker } from '../../database/postgres-breaker';
import { AnalyticsConfig } from '../config/analytics-config';
import { parseApiKey, Scope, SCOPES, secretMatches } from './api-key';
import { AuthFailureThrottle } from './auth-failure-throttle';
import { TenantsRepository, StoredKey } from './tenants.repository';
import { CLOCK, Clock } from '../../common/clock';
import { JwtVerifier, KeySetUnavailable } from './jwt-verifier';
import { Principal, TenantSettings } from './principal';

/**
 * Why a credential was refused: 401 (who are you?), 429 (too many failures from this address:
 * not checked) or 503 (cannot tell right now).
 */
export class CredentialError extends Error {
  constructor(
    readonly status: 401 | 429 | 503,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** How long an id the database does not know is remembered as unknown (ms), and how many are. */
export const NEGATIVE_TTL_MS = 30_000;
const MAX_NEGATIVE = 10_000;
/** Most key rows (or tenant rows) cached; they exist in the database, so this is only a backstop. */
const MAX_POSITIVE = 10_000;

/** A cache of rows by id: rows that exist, and, apart, ids the database does not know. */
class RowCache<T> {
  readonly rows = new Map<string, { row: T; at: number }>();
  readonly unknown = new Map<string, number>();
  readonly loading = new Map<string, Promise<T | null>>();

  remember(id: string, row: T | null, now: number): void {
    if (row === null) {
      this.rows.delete(id);
      this.unknown.delete(id);
      if (this.unknown.size >= MAX_NEGATIVE) this.unknown.delete(this.unknown.keys().next().value!);
      this.unknown.set(id, now);
    } else {
      this.unknown.delete(id);
      this.rows.delete(id);
      if (this.rows.size >= MAX_POSITIVE) this.rows.delete(this.rows.keys().next().value!);
      this.rows.set(id, { row, at: now });
    }
  }
}

/**
 * Turns a presented API key or JWT into a {@link Principal}. Key rows are cached for at most
 * ANALYTICS_KEY_CACHE_MS (1 s), so a revocation reaches every instance within a second without a
 * database read per request; while Postgres is unreachable a cached row keeps serving. Ids the
 * database does not know are remembered apart for {@link NEGATIVE_TTL_MS} (at most 10,000, least
 * recent forgotten first), so random ids neither reach Postgres each time nor push real keys out.
 *
 * Failed authentications are counted per client address ({@link AuthFailureThrottle}); while an
 * address is throttled, a credential that would need a database read for an id this instance does
 * not know is refused with 429 before the read. Ids it knows exist are still read, so a valid key
 * sent from the same address keeps working.
 */
@Injectable()
export class CredentialService {
  private readonly logger = new Logger(CredentialService.name);
  private readonly keys = new RowCache<StoredKey>();
  private readonly tenants = new RowCache<TenantSettings>();

  constructor(
    private readonly repo: TenantsRepository,
    private readonly jwt: JwtVerifier,
    private readonly throttle: AuthFailureThrottle,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly breaker: PostgresBreaker,
  ) {}

  /** `address`: the client's, for the failure throttle (none: not throttled, e.g. the CLI). */
  async resolve(credential: string, address?: string): Promise<Principal> {
    try {
      if (credential.startsWith('ak_')) return await this.fromApiKey(credential, address);
      if (credential.split('.').length === 3 && this.jwt.enabled) return await this.fromJwt(credential, address);
      throw new CredentialError(401, 'The API key is not valid.');
    } catch (err) {
      if (err instanceof CredentialError && err.status === 401) this.throttle.fail(address);
      throw err;
    }
  }

  private async fromApiKey(presented: string, address: string | undefined): Promise<Principal> {
    const parsed = parseApiKey(presented);
    if (!parsed) throw new CredentialError(401, 'The API key is not valid.');
    const row = await this.cached(this.keys, parsed.id, address, () => this.repo.findKey(parsed.id));
    if (!row || !secretMatches(parsed.secret, row.secretHash))
      throw new CredentialError(401, 'The API key is not valid.');
    if (row.revoked) throw new CredentialError(401, 'The API key has been revoked.');
    return this.principal(row.tenant, row.scopes, 'api_key', row.id);
  }

  private async fromJwt(token: string, address: string | undefined): Promise<Principal> {
    let claims;
    try {
      claims = await this.jwt.verify(token);
    } catch (err) {
      if (err instanceof KeySetUnavailable) {
        this.logger.warn(`JWT key set unavailable: ${err.reason}`);
        throw new CredentialError(503, err.message);
      }
      throw new CredentialError(401, `The token is not valid: ${(err as Error).message}.`);
    }
    if (!isUuid(claims.tenantId)) {
      throw new CredentialError(401, 'The token has no tenant_id claim holding a tenant UUID.');
    }
    const scopes = (
      Array.isArray(claims.scope) ? claims.scope : typeof claims.scope === 'string' ? claims.scope.split(' ') : []
    ).filter((s): s is Scope => (SCOPES as readonly string[]).includes(s as string));
    if (!scopes.length) throw new CredentialError(401, `The token's scope claim names none of ${SCOPES.join(', ')}.`);
    const tenantId = claims.tenantId.toLowerCase();
    const tenant = await this.cached(this.tenants, tenantId, address, () => this.repo.findTenant(tenantId));
    if (!tenant) throw new CredentialError(401, 'The token names a tenant that does not exist.');
    return this.principal(tenant, scopes, 'jwt', claims.subject);
  }

  private principal(t: TenantSettings, scopes: Scope[], via: Principal['via'], credentialId: string): Principal {
    return {
      tenantId: t.id,
      scopes,
      via,
      credentialId,
      isOperator: t.isOperator,
      limits: {
        rps: t.rateLimitRps ?? this.config.auth.rateLimitRps,
        eps: t.rateLimitEps ?? this.config.auth.rateLimitEps,
      },
      corsOrigins: t.corsOrigins,
      validationMode: t.validationMode,
      privacy: {
        retentionDays: t.retentionDays ?? this.config.privacy.retentionDays,
        pseudonymizeUserId: t.pseudonymizeUserId,
        pseudonymSecret: t.pseudonymSecret,
        redactKeys: t.redactKeys,
      },
    };
  }

  private async cached<T>(
    cache: RowCache<T>,
    id: string,
    address: string | undefined,
    load: () => Promise<T | null>,
  ): Promise<T | null> {
    const now = this.clock.now();
    const hit = cache.rows.get(id);
    if (hit && now - hit.at < this.config.auth.keyCacheMs) return hit.row;
    if (!hit) {
      const unknownAt = cache.unknown.get(id);
      if (unknownAt !== undefined && now - unknownAt < NEGATIVE_TTL_MS) return null;
      const wait = this.throttle.retryAfterS(address);
      if (wait !== null) {
        throw new CredentialError(
          429,
          `Too many failed authentications from this address (more than ${this.throttle.limitPerMin} a minute, ANALYTICS_AUTH_FAILURES_PER_MIN): credentials this instance does not know are not checked for now. Retry after ${wait} s.`,
          wait,
        );
      }
    }
    try {
      const row = await this.loadOnce(cache, id, load);
      cache.remember(id, row, now);
      return row;
    } catch (err) {
      // Postgres cannot say: a row it gave lately keeps serving, within ANALYTICS_STALE_KEY_MAX_MS.
      if (hit && now - hit.at < this.config.database.staleKeyMaxMs) return hit.row;
      this.logger.warn(`Credential lookup failed: ${(err as Error).message}`);
      throw new CredentialError(
        503,
        'Credentials cannot be checked right now (database unavailable). Retry shortly.',
        err instanceof DatabaseUnavailable ? err.retryAfterS : 1,
      );
    }
  }

  /** One read per id at a time, under the breaker: concurrent requests for one key share it. */
  private loadOnce<T>(cache: RowCache<T>, id: string, load: () => Promise<T | null>): Promise<T | null> {
    let running = cache.loading.get(id);
    if (!running) {
      running = this.breaker.read(load).finally(() => cache.loading.delete(id));
      cache.loading.set(id, running);
    }
    return running;
  }
}
