import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { RedisClient } from '../../common/redis.provider';
import { TenantsRepository } from '../auth/tenants.repository';
import { consentKeyOfDigest } from './subject-keys';

/**
 * Renames one record, keeping its expiry, and its entry in the tenant's index with its score. A
 * record already written under the new name (a decision made since) wins over the old one.
 * KEYS: old name, new name, the tenant's index.
 */
const REKEY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[1]) else redis.call('RENAME', KEYS[1], KEYS[2]) end
local score = redis.call('ZSCORE', KEYS[3], KEYS[1])
if score then
  redis.call('ZREM', KEYS[3], KEYS[1])
  redis.call('ZADD', KEYS[3], 'NX', score, KEYS[2])
end
return 1`;

/**
 * Consent records were first named by a plain SHA-256 digest of the subject's id (32 hex
 * characters); they are now named by an HMAC of that digest under the tenant's secret
 * (`consentKey`, 64 hex characters). At start the worker renames every record still in the old
 * form, which needs no id: the digest is in the name. Several workers may do it at once; each
 * rename is one script, and a record renamed by another is skipped.
 */
@Injectable()
export class ConsentRekeying implements OnApplicationBootstrap {
  private readonly logger = new Logger(ConsentRekeying.name);

  constructor(
    private readonly redis: RedisClient,
    private readonly tenants: TenantsRepository,
  ) {
    this.redis.defineCommand('analyticsRekeyConsent', { numberOfKeys: 3, lua: REKEY });
  }

  async onApplicationBootstrap(): Promise<void> {
    const renamed = await this.rekey();
    if (renamed) this.logger.log(`Consent records rekeyed with their tenants' secrets: ${renamed}`);
  }

  /** Renames every consent record of the old form; returns how many. */
  async rekey(): Promise<number> {
    const old = new RegExp(
      `^${this.redis.key('consent').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:([0-9a-f-]{36}):([su]):([0-9a-f]{32})$`,
    );
    const secrets = new Map<string, Buffer | null>();
    let renamed = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.redis.key('consent', '*'), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const m = old.exec(key);
        if (!m) continue;
        const [, tenant, kind, digest] = m;
        if (!secrets.has(tenant)) secrets.set(tenant, (await this.tenants.findTenant(tenant))?.pseudonymSecret ?? null);
        const secret = secrets.get(tenant);
        if (!secret) continue; // its tenant is gone; the record expires with its retention
        const renamedKey = this.redis.key(
          'consent',
          tenant,
          kind,
          consentKeyOfDigest(secret, kind as 's' | 'u', digest),
        );
        const index = this.redis.key('consent-subjects', tenant);
        renamed += await (
          this.redis as unknown as { analyticsRekeyConsent(...k: string[]): Promise<number> }
        ).analyticsRekeyConsent(key, renamedKey, index);
      }
    } while (cursor !== '0');
    return renamed;
  }
}
