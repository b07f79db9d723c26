import { StoredEvent } from '../contracts/stored-event';
import { coarsenIp, redactText } from './pii-detectors';

export type PiiTreatment = 'redact' | 'pseudonymize';

export interface SanitizerPolicy {
  /** Extra property names (last dotted segment) the tenant wants redacted whatever their value. */
  extraSensitiveKeys: readonly string[];
  /** Attributes a schema marks `"x-pii"`: true (redact) or "pseudonymize". */
  piiAttributes: ReadonlyMap<string, PiiTreatment>;
  pseudonymizeUserId: boolean;
  pseudonymize: (value: string) => string;
  /** Top-level attributes the event type declares numeric: a number there is a measurement, kept whatever its name. */
  measurements?: ReadonlySet<string>;
}

const SENSITIVE = new Set([
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'authorization',
  'auth',
  'api_key',
  'apikey',
  'cookie',
  'cookies',
  'set_cookie',
  'email',
  'email_address',
  'mail',
  'phone',
  'phone_number',
  'telephone',
  'mobile',
  'ssn',
  'social_security_number',
  'credit_card',
  'card_number',
  'cvv',
  'cvc',
  'iban',
  'first_name',
  'last_name',
  'full_name',
  'birth_date',
  'date_of_birth',
  'dob',
  'street',
  'street_address',
  'passport',
  'passport_number',
  'national_id',
  'tax_id',
]);
// Names that hold a credential whatever they are called around it: access_token, user.password_hash, x_api_secret.
const SENSITIVE_PART = /(^|_)(password|passwd|secret|token|apikey|api_key|private_key)(_|$)/;
const IP_KEYS = new Set(['ip', 'ip_address', 'client_ip', 'remote_ip', 'remote_addr', 'address']);
const TRUNCATE: Record<string, number> = { 'kb.query': 500, 'error.message': 500 };
const URL_VALUE = /^https?:\/\/\S+$/i;

// Attribute names repeat from event to event: their normalized last segment is computed once.
const segments = new Map<string, string>();
function lastSegment(key: string): string {
  let seg = segments.get(key);
  if (seg === undefined) {
    seg = key
      .slice(key.lastIndexOf('.') + 1)
      .toLowerCase()
      .replace(/-/g, '_');
    if (segments.size > 50_000) segments.clear(); // bounded: clients may send endless distinct keys
    segments.set(key, seg);
  }
  return seg;
}

/**
 * Removes personal data from an event before it is queued, stored or logged: detected values become
 * `[redacted:<kind>]` (in keys too), sensitive properties lose their value, kept IPs are coarsened,
 * page URLs keep their path and referrers their host, URLs lose query and credentials, long free
 * text is truncated, and user ids are pseudonymized when the tenant asks or when they are personal
 * data themselves. Returns a new event; the input is not changed.
 */
export function sanitizeEvent(e: StoredEvent, policy: SanitizerPolicy): StoredEvent {
  const text = redactText;
  const sensitive = (key: string) => {
    const seg = lastSegment(key);
    return SENSITIVE.has(seg) || SENSITIVE_PART.test(seg) || policy.extraSensitiveKeys.includes(seg);
  };

  const value = (v: unknown, key: string | null, depth: number): unknown => {
    if (typeof v === 'string') {
      if (key && IP_KEYS.has(lastSegment(key))) {
        const coarse = coarsenIp(v);
        if (coarse) return coarse;
      }
      let s = URL_VALUE.test(v) ? trimUrl(v) : v;
      s = text(s);
      const limit = key ? TRUNCATE[key] : undefined;
      return limit && s.length > limit ? s.slice(0, limit) : s;
    }
    if (Array.isArray(v)) return v.map((x) => value(x, key, depth + 1));
    if (v !== null && typeof v === 'object') return object(v as Record<string, unknown>, depth + 1);
    return v;
  };
  const object = (
    o: Record<string, unknown>,
    depth: number,
    measurements?: ReadonlySet<string>,
  ): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      let key = text(k);
      while (Object.prototype.hasOwnProperty.call(out, key)) key = `${key}#`;
      // Defined, not assigned: a "__proto__" key is data, never the copy's prototype.
      Object.defineProperty(out, key, {
        value:
          sensitive(k) && v !== null && typeof v !== 'boolean' && !(typeof v === 'number' && measurements?.has(k))
            ? `[redacted:${lastSegment(k)}]`
            : value(v, k, depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };

  const attributes = object(e.attributes, 0, policy.measurements);
  for (const [name, treatment] of policy.piiAttributes) {
    const v = e.attributes[name];
    if (v === undefined || v === null) continue;
    // A PII attribute may hold any JSON value; String() is what its pseudonym has always been made from.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    attributes[name] = treatment === 'pseudonymize' ? policy.pseudonymize(String(v)) : '[redacted:x-pii]';
  }

  let context = e.context ? object(e.context, 0) : null;
  const page = e.context?.page as Record<string, unknown> | undefined;
  if (context && page && typeof page === 'object') {
    const p = { ...(context.page as Record<string, unknown>) };
    if (typeof page.url === 'string') p.url = text(pathOnly(page.url));
    if (typeof page.referrer === 'string') p.referrer = hostOnly(page.referrer);
    context = { ...context, page: p };
  }

  let userId = e.user_id;
  if (userId !== null && (policy.pseudonymizeUserId || text(userId) !== userId)) userId = policy.pseudonymize(userId);

  return { ...e, user_id: userId, attributes, context, payload: e.payload ? object(e.payload, 0) : null };
}

/** Scrubs a log line or message with the same detectors. */
export function sanitizeText(s: string): string {
  return redactText(s);
}

function trimUrl(v: string): string {
  try {
    const u = new URL(v);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return v;
  }
}

function pathOnly(v: string): string {
  try {
    return new URL(v, 'http://x').pathname;
  } catch {
    return '';
  }
}

function hostOnly(v: string): string {
  try {
    return new URL(v).host;
  } catch {
    return '';
  }
}
