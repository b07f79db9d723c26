import { createHmac } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { StoredEvent } from '../contracts/stored-event';
import { TenantPrivacy } from '../auth/principal';
import { BUILTIN_EVENTS } from '../schema-registry/builtin-events';
import { TenantSchemaSet } from '../schema-registry/tenant-schema-set';
import { PiiTreatment, sanitizeEvent } from './sanitizer';

/** HMAC-SHA256 of a user id under the tenant's secret: stable, so erasure and export can find it. */
export function pseudonymize(secret: Buffer, value: string): string {
  return createHmac('sha256', secret).update(value).digest('hex');
}

/** Attributes a schema marks `"x-pii": true` (redact) or `"x-pii": "pseudonymize"`. */
export function piiAttributes(schema: Record<string, unknown> | undefined): Map<string, PiiTreatment> {
  const out = new Map<string, PiiTreatment>();
  const props = (schema?.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, p] of Object.entries(props)) {
    if (p['x-pii'] === true) out.set(name, 'redact');
    else if (p['x-pii'] === 'pseudonymize') out.set(name, 'pseudonymize');
  }
  return out;
}

const BUILTIN_PII = new Map(BUILTIN_EVENTS.map((t) => [t.name, piiAttributes(t.attributes)]));

/** Applies a tenant's privacy settings to its events before they are queued. */
@Injectable()
export class PrivacyService {
  sanitize(events: StoredEvent[], privacy: TenantPrivacy, schemas: TenantSchemaSet): StoredEvent[] {
    const pseudo = (v: string) => pseudonymize(privacy.pseudonymSecret, v);
    return events.map((e) =>
      sanitizeEvent(e, {
        extraSensitiveKeys: privacy.redactKeys,
        piiAttributes: BUILTIN_PII.get(e.event_name) ?? piiAttributes(schemas.versions(e.event_name).at(-1)?.schema),
        pseudonymizeUserId: privacy.pseudonymizeUserId,
        pseudonymize: pseudo,
      }),
    );
  }

  /** The user id as it is stored, for erasure and export requests that name the original. */
  storedUserId(userId: string, privacy: TenantPrivacy): string {
    return privacy.pseudonymizeUserId ? pseudonymize(privacy.pseudonymSecret, userId) : userId;
  }
}
