import { Inject, Injectable } from '@nestjs/common';
import { createRemoteJWKSet, errors, jwtVerify, JWTPayload, JWTVerifyGetKey } from 'jose';
import { AnalyticsConfig } from '../config/analytics-config';
import { CLOCK, Clock } from '../../common/clock';

export interface VerifiedToken {
  tenantId: unknown;
  scope: unknown;
  subject: string;
}

/** The JWKS URL could not be read (down, not 200, not JSON, too slow): the token cannot be checked right now. */
export class KeySetUnavailable extends Error {
  constructor(readonly reason: string) {
    super("The single sign-on's key set (ANALYTICS_JWT_JWKS_URL) cannot be read right now. Retry shortly.");
  }
}

/** What the key set's own answer decides (no such key, several): the token's fault, not an outage. */
const KEY_SELECTION = new Set([errors.JWKSNoMatchingKey.code, errors.JWKSMultipleMatchingKeys.code]);

const JWKS_OPTIONS = { cacheMaxAge: 10 * 60 * 1000, timeoutDuration: 3000 };

/** Seconds of clock skew tolerated on exp, nbf and iat. */
const CLOCK_TOLERANCE_S = 5;

/**
 * Verifies dashboard tokens from a single sign-on: HS256 with a shared secret, or RS256 against a
 * JWKS URL (keys fetched and cached by jose). Either may be configured, or both. Every token must
 * name the configured issuer and audience (start-up requires both when JWTs are on) and carry
 * `iat` and `exp`: issued no later than now (give or take {@link CLOCK_TOLERANCE_S}), living at
 * most ANALYTICS_JWT_MAX_LIFETIME_S (exp − iat), and not expired.
 */
@Injectable()
export class JwtVerifier {
  private readonly jwks: JWTVerifyGetKey | null;
  private readonly secret: Uint8Array | null;

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    const { secret, jwksUrl } = config.auth.jwt;
    this.secret = secret ? new TextEncoder().encode(secret) : null;
    this.jwks = jwksUrl ? availableOrThrow(createRemoteJWKSet(new URL(jwksUrl), JWKS_OPTIONS)) : null;
  }

  get enabled(): boolean {
    return this.secret !== null || this.jwks !== null;
  }

  async verify(token: string): Promise<VerifiedToken> {
    const { issuer, audience, maxLifetimeS } = this.config.auth.jwt;
    const options = {
      issuer,
      audience,
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ['exp', 'iat'],
      maxTokenAge: maxLifetimeS,
      currentDate: new Date(this.clock.now()),
    };
    let payload: JWTPayload;
    const alg = headerAlg(token);
    if (alg === 'HS256' && this.secret) {
      ({ payload } = await jwtVerify(token, this.secret, { ...options, algorithms: ['HS256'] }));
    } else if (alg === 'RS256' && this.jwks) {
      ({ payload } = await jwtVerify(token, this.jwks, { ...options, algorithms: ['RS256'] }));
    } else {
      throw new Error(`tokens signed with ${alg ?? 'an unknown algorithm'} are not accepted`);
    }
    // jose has checked that both are numbers, iat is not in the future and exp not in the past.
    const lifetime = (payload.exp as number) - (payload.iat as number);
    if (lifetime > maxLifetimeS) {
      throw new Error(
        `it is valid for ${lifetime} s (exp − iat); at most ${maxLifetimeS} s are accepted (ANALYTICS_JWT_MAX_LIFETIME_S)`,
      );
    }
    return {
      tenantId: payload.tenant_id,
      scope: payload.scope,
      subject: typeof payload.sub === 'string' ? payload.sub : 'jwt',
    };
  }
}

/** The key set's getter, with a failure to fetch the set raised as {@link KeySetUnavailable}. */
function availableOrThrow(getKey: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (err) {
      if (KEY_SELECTION.has((err as { code?: string }).code ?? '')) throw err;
      throw new KeySetUnavailable((err as Error).message);
    }
  };
}

function headerAlg(token: string): string | null {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : null;
  } catch {
    return null;
  }
}
