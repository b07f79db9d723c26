import { UUID_PATTERN } from '../../common/validation';
import type { EventError } from '../schema-registry/event-error';

/**
 * The Snowplow tracker protocol, translated into envelopes: one tracker event (the name-value
 * pairs of a GET query or of one element of a POST's `payload_data`) becomes one event of the
 * service. The translation does nothing else: validation, consent, the sanitizer, dedupe and the
 * queue are the IngestionService's, as for every other way in.
 *
 * | tracker `e` | event_name |
 * |---|---|
 * | `pv` page view | `snowplow.page_view` |
 * | `se` structured event | `snowplow.structured` (se_ca, se_ac, se_la, se_pr, se_va) |
 * | `ue` self-describing event | `snowplow.self_describing`, its JSON as `payload` |
 *
 * `eid` is the event_id (so a tracker's retry is a duplicate), `dtm`/`ttm` the time it occurred,
 * `co`/`cx` the context entities, `url`/`refr`/`page` the page, `ua`/`vp`/`lang` the device, `uid`
 * the user, `sid` the session and `aid` the site (when they are UUIDs).
 */

export const PAYLOAD_DATA_SCHEMA = /^iglu:com\.snowplowanalytics\.snowplow\/payload_data\/jsonschema\/1-0-\d+$/;
const UNSTRUCT = /^iglu:com\.snowplowanalytics\.snowplow\/unstruct_event\/jsonschema\/1-0-\d+$/;
const CONTEXTS = /^iglu:com\.snowplowanalytics\.snowplow\/contexts\/jsonschema\/1-\d+-\d+$/;
const UUID = new RegExp(UUID_PATTERN);
const VIEWPORT = /^(\d{1,6})x(\d{1,6})$/;
const MAX_ENTITIES = 20;

export const TRACKER_EVENT_NAMES = {
  pv: 'snowplow.page_view',
  se: 'snowplow.structured',
  ue: 'snowplow.self_describing',
} as const;

/** A tracker event that could not be read as an event at all, with why (pointers into the tracker's payload). */
export interface Untranslatable {
  errors: EventError[];
  event_id: string | null;
}

export type Translation = { event: Record<string, unknown> } | { untranslatable: Untranslatable };

const fail = (at: string, field: string, message: string, eventId: string | null): Translation => ({
  untranslatable: {
    event_id: eventId,
    errors: [{ pointer: `${at}/${field}`, keyword: 'trackerProtocol', message: `${at}/${field} ${message}` }],
  },
});

/** Base64 or base64url (the tracker's `ue_px`/`cx`), decoded as UTF-8; null when it is neither. */
function fromBase64(s: string): string | null {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) return null;
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

function json(plain: string | undefined, encoded: string | undefined): { value?: unknown; error?: string } {
  const text = plain ?? (encoded !== undefined ? fromBase64(encoded) : undefined);
  if (text === undefined) return {};
  if (text === null) return { error: 'is not base64' };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { error: 'is not valid JSON' };
  }
}

function isoFromMillis(ms: string | undefined): string | null {
  if (ms === undefined || !/^\d{1,15}$/.test(ms)) return null;
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * One tracker event as an envelope of `tenantId`. `at` is where it sits in the request (`/data/0`
 * for a POST, `` for a GET), for the pointers of what cannot be translated. `now` stands in for a
 * tracker that sent no timestamp; `userAgent` is the request's, for a tracker that sent no `ua`.
 */
export function translateTrackerEvent(
  raw: unknown,
  at: string,
  tenantId: string,
  now: Date,
  userAgent?: string,
): Translation {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return {
      untranslatable: {
        event_id: null,
        errors: [
          {
            pointer: at || '/',
            keyword: 'trackerProtocol',
            message: `${at || '/'} must be an object of tracker fields`,
          },
        ],
      },
    };
  const p = raw as Record<string, unknown>;
  const eid = str(p.eid);
  const eventId = eid && UUID.test(eid) ? eid.toLowerCase() : null;
  if (!eventId) return fail(at, 'eid', 'must be the event id the tracker generated (a UUID)', null);
  const e = str(p.e);
  const name =
    e !== undefined && Object.prototype.hasOwnProperty.call(TRACKER_EVENT_NAMES, e)
      ? TRACKER_EVENT_NAMES[e as keyof typeof TRACKER_EVENT_NAMES]
      : null;
  if (!name)
    return fail(
      at,
      'e',
      `must be pv (page view), se (structured event) or ue (self-describing event); got ${JSON.stringify((e ?? '').slice(0, 16))}`,
      eventId,
    );

  const attributes: Record<string, unknown> = {};
  const copy = (field: string, attribute: string) => {
    const v = str(p[field]);
    if (v !== undefined && v !== '') attributes[attribute] = v;
  };
  copy('aid', 'snowplow.app_id');
  copy('p', 'snowplow.platform');
  copy('tna', 'snowplow.namespace');
  copy('tv', 'snowplow.tracker_version');

  let payload: unknown;
  if (e === 'se') {
    copy('se_ca', 'se.category');
    copy('se_ac', 'se.action');
    copy('se_la', 'se.label');
    copy('se_pr', 'se.property');
    const va = str(p.se_va);
    if (va !== undefined && va !== '') {
      const n = Number(va);
      attributes['se.value'] = Number.isFinite(n) ? n : va; // a non-number fails the schema, with its pointer
    }
  } else if (e === 'ue') {
    const ue = json(str(p.ue_pr), str(p.ue_px));
    if (ue.error) return fail(at, p.ue_pr !== undefined ? 'ue_pr' : 'ue_px', ue.error, eventId);
    const wrapper = ue.value as { schema?: unknown; data?: unknown } | undefined;
    if (!wrapper || typeof wrapper !== 'object' || typeof wrapper.schema !== 'string' || !UNSTRUCT.test(wrapper.schema))
      return fail(
        at,
        p.ue_pr !== undefined ? 'ue_pr' : 'ue_px',
        'must be an unstruct_event self-describing JSON (iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0) wrapping the event',
        eventId,
      );
    payload = wrapper.data;
    const inner = wrapper.data as { schema?: unknown } | null;
    if (inner && typeof inner === 'object' && typeof inner.schema === 'string')
      attributes['iglu.schema'] = inner.schema;
  }

  const co = json(str(p.co), str(p.cx));
  if (co.error) return fail(at, p.co !== undefined ? 'co' : 'cx', co.error, eventId);
  let entities: unknown[] | undefined;
  if (co.value !== undefined) {
    const contexts = co.value as { schema?: unknown; data?: unknown };
    if (
      !contexts ||
      typeof contexts !== 'object' ||
      typeof contexts.schema !== 'string' ||
      !CONTEXTS.test(contexts.schema) ||
      !Array.isArray(contexts.data)
    )
      return fail(
        at,
        p.co !== undefined ? 'co' : 'cx',
        'must be a contexts self-describing JSON (iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1) holding an array of entities',
        eventId,
      );
    if (contexts.data.length > MAX_ENTITIES)
      return fail(
        at,
        p.co !== undefined ? 'co' : 'cx',
        `holds ${contexts.data.length} context entities; the limit is ${MAX_ENTITIES}`,
        eventId,
      );
    if (contexts.data.length) entities = contexts.data;
  }

  const context: Record<string, unknown> = {};
  if (entities) context.entities = entities;
  const page: Record<string, unknown> = {};
  if (str(p.url)) page.url = p.url;
  if (str(p.refr)) page.referrer = p.refr;
  if (str(p.page)) page.title = p.page;
  if (Object.keys(page).length) context.page = page;
  const device: Record<string, unknown> = {};
  const ua = str(p.ua) ?? userAgent;
  if (ua) device.user_agent = ua.slice(0, 1024);
  const vp = VIEWPORT.exec(str(p.vp) ?? '');
  if (vp) device.viewport = { width: Number(vp[1]), height: Number(vp[2]) };
  if (Object.keys(device).length) context.device = device;
  if (str(p.lang)) context.locale = p.lang;

  const occurred =
    isoFromMillis(str(p.ttm)) ?? isoFromMillis(str(p.dtm)) ?? isoFromMillis(str(p.stm)) ?? now.toISOString();
  const event: Record<string, unknown> = {
    event_id: eventId,
    event_name: name,
    occurred_at: occurred,
    tenant_id: tenantId,
    source: str(p.p) === 'web' || str(p.p) === undefined ? 'web' : 'server',
    attributes,
  };
  const aid = str(p.aid);
  if (aid && UUID.test(aid)) event.site_id = aid.toLowerCase();
  const sid = str(p.sid);
  if (sid && UUID.test(sid)) event.session_id = sid.toLowerCase();
  const uid = str(p.uid);
  if (uid) event.user_id = uid;
  if (payload !== undefined) event.payload = payload;
  if (Object.keys(context).length) event.context = context;
  return { event };
}

/** The tracker events of a POST body (`payload_data`), or why the body is not one. */
export function payloadData(body: unknown): { events: unknown[] } | { error: string } {
  const b = body as { schema?: unknown; data?: unknown } | null;
  if (!b || typeof b !== 'object' || Array.isArray(b))
    return {
      error:
        'The body must be a payload_data self-describing JSON {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4", "data": [...]}.',
    };
  if (typeof b.schema !== 'string' || !PAYLOAD_DATA_SCHEMA.test(b.schema))
    return {
      error: `/schema must be iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-x (got ${JSON.stringify(b.schema ?? null).slice(0, 100)}).`,
    };
  if (!Array.isArray(b.data) || b.data.length === 0)
    return { error: '/data must be a non-empty array of tracker events.' };
  return { events: b.data };
}
