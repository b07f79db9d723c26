import { isUuid } from '../../common/validation';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AnalyticsConfig } from '../config/analytics-config';
import { parseApiKey, Scope, SCOPES, secretMatches } from './api-key';
import { TenantsRepository, StoredKey } from './tenants.repository';
import { CLOCK, Clock } from './clock';
import { JwtVerifier, KeySetUnavailable } from './jwt-verifier';
import { Principal, TenantSettings } from './principal';

/** Why a credential was refused: 401 (who are you?) or 503 (cannot tell right now). */
export class CredentialError extends Error {
  constructor(
    readonly status: 401 | 503,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Turns a presented API key or JWT into a {@link Principal}. Key rows are cached for at most
 * ANALYTICS_KEY_CACHE_MS (1 s), so a revocation reaches every instance within a second without a
 * database read per request; while Postgres is unreachable a cached row keeps serving.
 */
@Injectable()
export class CredentialService {
  private readonly logger = new Logger(CredentialService.name);
  private readonly keys = new Map<string, { row: StoredKey | null; at: number }>();
  private readonly tenants = new Map<string, { row: TenantSettings | null; at: number }>();

  constructor(
    private readonly repo: TenantsRepository,
    private readonly jwt: JwtVerifier,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async resolve(credential: string): Promise<Principal> {
    if (credential.startsWith('ak_')) return this.fromApiKey(credential);
    if (credential.split('.').length === 3 && this.jwt.enabled) return this.fromJwt(credential);
    throw new CredentialError(401, 'The API key is not valid.');
  }

  private async fromApiKey(presented: string): Promise<Principal> {
    const parsed = parseApiKey(presented);
    if (!parsed) throw new CredentialError(401, 'The API key is not valid.');
    const row = await this.cached(this.keys, parsed.id, () => this.repo.findKey(parsed.id));
    if (!row || !secretMatches(parsed.secret, row.secretHash))
      throw new CredentialError(401, 'The API key is not valid.');
    if (row.revoked) throw new CredentialError(401, 'The API key has been revoked.');
    return this.principal(row.tenant, row.scopes, 'api_key', row.id);
  }

  private async fromJwt(token: string): Promise<Principal> {
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
    const scopes = (Array.isArray(claims.scope) ? claims.scope : String(claims.scope ?? '').split(' ')).filter(
      (s): s is Scope => (SCOPES as readonly string[]).includes(s as string),
    );
    if (!scopes.length) throw new CredentialError(401, `The token's scope claim names none of ${SCOPES.join(', ')}.`);
    const tenantId = claims.tenantId.toLowerCase();
    const tenant = await this.cached(this.tenants, tenantId, () => this.repo.findTenant(tenantId));
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
    cache: Map<string, { row: T | null; at: number }>,
    id: string,
    load: () => Promise<T | null>,
  ): Promise<T | null> {
    const hit = cache.get(id);
    const now = this.clock.now();
    if (hit && now - hit.at < this.config.auth.keyCacheMs) return hit.row;
    try {
      const row = await load();
      if (cache.size > 10_000) cache.clear(); // unknown ids sprayed at us must not grow memory
      cache.set(id, { row, at: now });
      return row;
    } catch (err) {
      if (hit) return hit.row;
      this.logger.warn(`Credential lookup failed: ${(err as Error).message}`);
      throw new CredentialError(503, 'Credentials cannot be checked right now (database unavailable). Retry shortly.');
    }
  }
}
