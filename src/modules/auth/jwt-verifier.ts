import { Inject, Injectable } from '@nestjs/common';
import { createRemoteJWKSet, jwtVerify, JWTPayload, JWTVerifyGetKey } from 'jose';
import { AnalyticsConfig } from '../config/analytics-config';

export interface VerifiedToken {
  tenantId: unknown;
  scope: unknown;
  subject: string;
}

/**
 * Verifies dashboard tokens from a single sign-on: HS256 with a shared secret, or RS256 against a
 * JWKS URL (keys fetched and cached by jose). Either may be configured, or both.
 */
@Injectable()
export class JwtVerifier {
  private readonly jwks: JWTVerifyGetKey | null;
  private readonly secret: Uint8Array | null;

  constructor(@Inject(AnalyticsConfig) private readonly config: AnalyticsConfig) {
    const { secret, jwksUrl } = config.auth.jwt;
    this.secret = secret ? new TextEncoder().encode(secret) : null;
    this.jwks = jwksUrl
      ? createRemoteJWKSet(new URL(jwksUrl), { cacheMaxAge: 10 * 60 * 1000, timeoutDuration: 3000 })
      : null;
  }

  get enabled(): boolean {
    return this.secret !== null || this.jwks !== null;
  }

  async verify(token: string): Promise<VerifiedToken> {
    const { issuer, audience } = this.config.auth.jwt;
    const options = { issuer, audience, clockTolerance: 5 };
    let payload: JWTPayload;
    const alg = headerAlg(token);
    if (alg === 'HS256' && this.secret) {
      ({ payload } = await jwtVerify(token, this.secret, { ...options, algorithms: ['HS256'] }));
    } else if (alg === 'RS256' && this.jwks) {
      ({ payload } = await jwtVerify(token, this.jwks, { ...options, algorithms: ['RS256'] }));
    } else {
      throw new Error(`tokens signed with ${alg ?? 'an unknown algorithm'} are not accepted`);
    }
    return {
      tenantId: payload.tenant_id,
      scope: payload.scope,
      subject: typeof payload.sub === 'string' ? payload.sub : 'jwt',
    };
  }
}

function headerAlg(token: string): string | null {
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : null;
  } catch {
    return null;
  }
}
