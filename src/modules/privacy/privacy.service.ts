import { Injectable } from '@nestjs/common';
import { StoredEvent } from '../contracts/stored-event';
import { TenantPrivacy } from '../auth/principal';
import { BUILTIN_EVENTS } from '../schema-registry/builtin-events';
import { TenantSchemaSet } from '../schema-registry/tenant-schema-set';
import { PiiTreatment, sanitizeEvent } from './sanitizer';
import { erasureKey, pseudonymize } from './subject-keys';

export { pseudonymize } from './subject-keys';

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
/**
 * The numeric attributes of each built-in type: measurements the schema types as numbers, whose
 * names may contain a credential word (ai.llm.time_to_first_token_ms, gen_ai.usage.input_tokens).
 */
const BUILTIN_MEASUREMENTS = new Map(
  BUILTIN_EVENTS.map((t) => [
    t.name,
    new Set(
      Object.entries(t.attributes.properties)
        .filter(([, a]) => a.type === 'number' || a.type === 'integer')
        .map(([k]) => k),
    ),
  ]),
);

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
        measurements: BUILTIN_MEASUREMENTS.get(e.event_name),
      }),
    );
  }

  /**
   * Every form a subject's id may be stored in, for erasure and export requests that name the
   * original: a user id as sent, or its pseudonym (the tenant pseudonymizes, or did when the event
   * came, or the id was personal data itself, which the sanitizer always pseudonymizes). A session
   * id is stored as sent, in its canonical lower-case form.
   */
  storedIds(type: 'user' | 'session', value: string, privacy: TenantPrivacy): string[] {
    if (type === 'session') return [value.toLowerCase()];
    return [value, pseudonymize(privacy.pseudonymSecret, value)];
  }

  /** The keys an erasure request holds for its subject: one per stored form, never the id itself. */
  erasureKeys(type: 'user' | 'session', value: string, privacy: TenantPrivacy): Buffer[] {
    return this.storedIds(type, value, privacy).map((id) => erasureKey(privacy.pseudonymSecret, type, id));
  }
}
