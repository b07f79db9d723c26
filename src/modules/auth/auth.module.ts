import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard';
import { AdminPagesMiddleware } from './admin-pages.middleware';
import { AuthFailureThrottle } from './auth-failure-throttle';
import { CLOCK, systemClock } from '../../common/clock';
import { CredentialService } from './credential.service';
import { JwtVerifier } from './jwt-verifier';
import { RateLimiter } from './rate-limiter';
import { RequestAuthorizer } from './request-authorizer';
import { TenantsModule } from './tenants.module';

/** Tenants, API keys and JWTs, scopes, per-tenant rate limits and CORS allow-lists. */
@Global()
@Module({
  imports: [TenantsModule],
  providers: [
    { provide: CLOCK, useFactory: systemClock },
    JwtVerifier,
    AuthFailureThrottle,
    CredentialService,
    RateLimiter,
    RequestAuthorizer,
    AdminPagesMiddleware,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [TenantsModule, CredentialService, RequestAuthorizer, AdminPagesMiddleware],
})
export class AuthModule {}
