import { isJsonObject } from '../../common/validation';
import { StoredEvent } from '../contracts/stored-event';
import type { AnalyticsConfig } from '../config/analytics-config';
import { EventError } from '../schema-registry/event-error';
import type { EventValidator } from '../schema-registry/event-validator';
import { checkPayload, PayloadLimits } from '../schema-registry/payload-guard';
import type { TenantSchemaSet } from '../schema-registry/tenant-schema-set';

export interface AssessmentRules extends PayloadLimits {
  clockSkewToleranceMs: number;
  retentionDays: number;
}

export type Assessment =
  | { ok: true; event: StoredEvent }
  /** `quarantine` is set when only the content schemas failed: the event may be kept apart and replayed. */
  | { ok: false; eventId: string | null; errors: EventError[]; quarantine?: StoredEvent };

/** The two stages of schema validation: the envelope, then the type's and self-describing content. */
export interface EventChecks {
  envelope(event: unknown): EventError[];
  content(event: Record<string, unknown>): EventError[];
}

/** The rules of the configuration, with the service-wide retention (a tenant's own may replace it). */
export function assessmentRules(config: AnalyticsConfig): AssessmentRules {
  const i = config.ingestion;
  return {
    maxDepth: i.maxNestingDepth,
    maxStringLength: i.maxStringLength,
    clockSkewToleranceMs: i.clockSkewToleranceMs,
    retentionDays: config.privacy.retentionDays,
  };
}

/** The validator's two stages, the content one against a tenant's schemas. */
export function eventChecks(validator: EventValidator, schemas: TenantSchemaSet): EventChecks {
  return { envelope: (e) => validator.envelope(e), content: (e) => validator.content(e, schemas) };
}

const DAY_MS = 86_400_000;

/**
 * Everything decided about one event before dedupe: structure, envelope, time window, content
 * schemas. Pure: the checks and the clock are passed in, so it is unit-testable.
 */
export function assessEvent(raw: unknown, checks: EventChecks, rules: AssessmentRules, now: Date): Assessment {
  const eventId =
    typeof (raw as { event_id?: unknown })?.event_id === 'string'
      ? (raw as { event_id: string }).event_id.slice(0, 64)
      : null;
  if (!isJsonObject(raw)) {
    return {
      ok: false,
      eventId: null,
      errors: [{ pointer: '', keyword: 'type', message: 'the event must be a JSON object' }],
    };
  }
  const structural = checkPayload(raw, rules);
  if (structural.length) return { ok: false, eventId: safeId(eventId), errors: structural };

  const errors = checks.envelope(raw);
  const e = raw;
  if (!errors.some((x) => x.pointer === '/occurred_at') && typeof e.occurred_at === 'string') {
    const t = Date.parse(e.occurred_at);
    if (Number.isNaN(t)) {
      errors.push({
        pointer: '/occurred_at',
        keyword: 'format',
        message: '/occurred_at is not a date-time that exists',
      });
    } else if (t > now.getTime() + rules.clockSkewToleranceMs) {
      errors.push({
        pointer: '/occurred_at',
        keyword: 'clockSkew',
        message: `/occurred_at is ${formatSpan(t - now.getTime())} in the future; at most ${formatSpan(rules.clockSkewToleranceMs)} of clock skew is tolerated`,
      });
    } else if (t < now.getTime() - rules.retentionDays * DAY_MS) {
      errors.push({
        pointer: '/occurred_at',
        keyword: 'retention',
        message: `/occurred_at is older than the retention window of ${rules.retentionDays} days`,
      });
    }
  }
  if (errors.length) return { ok: false, eventId: safeId(eventId), errors };

  const event = normalize(e, now);
  const contentErrors = checks.content(e);
  if (contentErrors.length) return { ok: false, eventId: event.event_id, errors: contentErrors, quarantine: event };
  return { ok: true, event };
}

function normalize(e: Record<string, unknown>, now: Date): StoredEvent {
  return {
    event_id: (e.event_id as string).toLowerCase(),
    event_name: e.event_name as string,
    // RFC 3339 allows lower-case t/z; upper-casing keeps the client's sub-millisecond precision.
    occurred_at: (e.occurred_at as string).toUpperCase(),
    received_at: now.toISOString(),
    tenant_id: (e.tenant_id as string).toLowerCase(),
    site_id: lower(e.site_id),
    session_id: lower(e.session_id),
    user_id: (e.user_id as string | undefined) ?? null,
    source: e.source as string,
    attributes: e.attributes as Record<string, unknown>,
    context: (e.context as Record<string, unknown> | undefined) ?? null,
    payload: (e.payload as Record<string, unknown> | undefined) ?? null,
  };
}

function lower(v: unknown): string | null {
  return typeof v === 'string' ? v.toLowerCase() : null;
}

function safeId(id: string | null): string | null {
  return id !== null && /^[0-9a-fA-F-]{1,64}$/.test(id) ? id : null;
}

function formatSpan(ms: number): string {
  const h = ms / 3_600_000;
  if (h >= 1) return `${Math.round(h * 10) / 10} h`;
  return `${Math.round(ms / 1000)} s`;
}
