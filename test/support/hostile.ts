import { randomUUID } from 'node:crypto';
import { makeEvent } from './events';

/** A small seeded PRNG (mulberry32) so that a failing fuzz run can be replayed with its seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof rng>;

const deep = (n: number): unknown => (n === 0 ? 'bottom' : { d: deep(n - 1) });

/** Values meant to break a parser, a validator, a database or a browser. */
export const HOSTILE_VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1.5e308,
  -0,
  2 ** 53 + 1,
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\ud83d\ude00',
  "'; DROP TABLE analytics_events_raw; --",
  '" OR 1=1 --',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '../../etc/passwd',
  '%00',
  '\\u0000',
  '\u202eevil',
  '\uffff',
  '\ufeffbom',
  'ä'.repeat(300),
  'x'.repeat(9000),
  [],
  [null],
  [[[[[]]]]],
  {},
  { __proto__: { polluted: true } },
  JSON.parse('{"__proto__":{"polluted":1}}'),
  { constructor: { prototype: { polluted: 1 } } },
  deep(30),
  deep(15),
  Array.from({ length: 300 }, (_, i) => i),
  '2026-11-28T10:00:00Z',
  '9999-12-31T23:59:59Z',
  '0000-00-00T00:00:00Z',
  'NaN',
  'Infinity',
  randomUUID().toUpperCase(),
  `${randomUUID()}x`,
  'web',
  'voice_ws',
  'a.b',
  'A.B',
  '.',
  'a..b',
];

const FIELDS = [
  'event_id',
  'event_name',
  'occurred_at',
  'tenant_id',
  'site_id',
  'session_id',
  'user_id',
  'source',
  'attributes',
  'context',
  'received_at',
  '__proto__',
  'constructor',
  'extra',
];

/** An event with one to three fields replaced by hostile values, or hostile keys in its attributes. */
export function hostileEvent(r: Rng, tenantId: string): Record<string, unknown> {
  const e: Record<string, unknown> = makeEvent({ tenant_id: tenantId });
  const mode = r.int(4);
  if (mode === 0) {
    for (let i = 0, n = 1 + r.int(3); i < n; i++) {
      const f = r.pick(FIELDS);
      if (r.chance(0.15)) delete e[f];
      else
        Object.defineProperty(e, f, {
          value: r.pick(HOSTILE_VALUES),
          enumerable: true,
          configurable: true,
          writable: true,
        });
    }
  } else if (mode === 1) {
    const attrs: Record<string, unknown> = {};
    for (let i = 0, n = 1 + r.int(6); i < n; i++) {
      const key = r.pick([
        '__proto__',
        'constructor',
        'prototype',
        'a.b.c',
        'a/b',
        '~0',
        '',
        ' ',
        'k\u0000',
        'k\ud800',
        "'; --",
        '<b>',
        'x'.repeat(300),
        `k${i}`,
      ]);
      Object.defineProperty(attrs, key, {
        value: r.pick(HOSTILE_VALUES),
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
    e.attributes = attrs;
  } else if (mode === 2) {
    e.context = {
      page: { url: r.pick(HOSTILE_VALUES), referrer: r.pick(HOSTILE_VALUES), title: r.pick(HOSTILE_VALUES) },
      consent: r.pick(HOSTILE_VALUES),
      locale: r.pick(HOSTILE_VALUES),
    };
  } else {
    e.attributes = {
      q: r.pick(HOSTILE_VALUES),
      n: r.pick(HOSTILE_VALUES),
      nested: { list: [r.pick(HOSTILE_VALUES), r.pick(HOSTILE_VALUES)] },
    };
  }
  return e;
}

export interface HostileRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  label: string;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  '',
  'application/json; charset=utf-16',
  'application/vnd.api+json',
  'multipart/form-data; boundary=x',
];

/** One generated request: mostly hostile events and batches, some raw garbage, odd headers and paths. */
export function hostileRequest(r: Rng, tenantId: string, key: string): HostileRequest {
  const auth = { authorization: `Bearer ${key}` };
  const json = { 'content-type': 'application/json', ...auth };
  const kind = r.int(100);
  if (kind < 10)
    return {
      method: 'POST',
      path: '/api/v1/analytics/events',
      headers: json,
      body: JSON.stringify(makeEvent({ tenant_id: tenantId })),
      label: 'valid single',
    };
  if (kind < 40)
    return {
      method: 'POST',
      path: '/api/v1/analytics/events',
      headers: json,
      body: JSON.stringify(hostileEvent(r, tenantId)),
      label: 'hostile single',
    };
  if (kind < 60) {
    const events = Array.from({ length: 1 + r.int(8) }, () =>
      r.chance(0.4)
        ? makeEvent({ tenant_id: tenantId })
        : r.chance(0.8)
          ? hostileEvent(r, tenantId)
          : r.pick(HOSTILE_VALUES),
    );
    const body: Record<string, unknown> = { events };
    if (r.chance(0.3)) body.batch_id = r.pick(HOSTILE_VALUES);
    return {
      method: 'POST',
      path: '/api/v1/analytics/events/batch',
      headers: json,
      body: JSON.stringify(body),
      label: 'hostile batch',
    };
  }
  if (kind < 68)
    return {
      method: 'POST',
      path: '/api/v1/analytics/events/batch',
      headers: json,
      body: JSON.stringify(
        r.pick([
          { events: r.pick(HOSTILE_VALUES) },
          { events: [] },
          r.pick(HOSTILE_VALUES),
          { events: Array(600).fill(1) },
        ]),
      ),
      label: 'malformed batch',
    };
  if (kind < 78) {
    const valid = JSON.stringify(makeEvent({ tenant_id: tenantId }));
    const body = r.pick([
      valid.slice(0, r.int(valid.length)),
      `\ufeff${valid}`,
      valid.replace('{', '{{'),
      `${valid},`,
      '['.repeat(5000),
      '{"a":'.repeat(3000),
      'null',
      '1e999999',
      '"\\ud800"',
      '{"event_id": "\\u0000"}',
      valid.replace('"attributes":{', '"attributes":{"n":1e400,'),
    ]);
    return {
      method: 'POST',
      path: r.pick(['/api/v1/analytics/events', '/api/v1/analytics/events/batch']),
      headers: json,
      body,
      label: 'broken JSON',
    };
  }
  if (kind < 84) {
    const bytes = Buffer.alloc(1 + r.int(2000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
    const valid = Buffer.from(JSON.stringify(makeEvent({ tenant_id: tenantId, attributes: { s: 'PLACEHOLDER' } })));
    const invalidUtf8 = Buffer.from(valid.toString().replace('PLACEHOLDER', '\u0001\u0001'));
    invalidUtf8[invalidUtf8.indexOf(1)] = 0xff;
    invalidUtf8[invalidUtf8.indexOf(1)] = 0xc3;
    return {
      method: 'POST',
      path: '/api/v1/analytics/events',
      headers: json,
      body: r.chance(0.5) ? bytes : invalidUtf8,
      label: 'raw bytes',
    };
  }
  if (kind < 90) {
    return {
      method: 'POST',
      path: '/api/v1/analytics/events',
      headers: {
        'content-type': r.pick(CONTENT_TYPES),
        ...auth,
        ...(r.chance(0.3) ? { 'content-encoding': r.pick(['gzip', 'deflate', 'br', 'identity', 'zstd']) } : {}),
      },
      body: JSON.stringify(makeEvent({ tenant_id: tenantId })),
      label: 'odd headers',
    };
  }
  if (kind < 95) {
    const badAuth = r.pick([
      'Bearer',
      'Bearer ',
      'Basic Zm9vOmJhcg==',
      `Bearer ${key}x`,
      `Bearer ak_${'0'.repeat(12)}_${'A'.repeat(43)}`,
      'Bearer a.b.c',
      `bearer  ${key}`,
      'Token abc',
      `Bearer ${'x'.repeat(4000)}`,
      'Bearer eyJhbGciOiJub25lIn0.e30.',
    ]);
    return {
      method: 'POST',
      path: '/api/v1/analytics/events',
      headers: { 'content-type': 'application/json', authorization: badAuth },
      body: JSON.stringify(makeEvent({ tenant_id: tenantId })),
      label: 'bad credentials',
    };
  }
  return {
    method: r.pick(['GET', 'PUT', 'DELETE', 'PATCH', 'POST']),
    path: r.pick([
      '/api/v1/analytics/events/../health',
      '/api/v1/analytics/%2e%2e/%2e%2e/etc/passwd',
      '/api/v1/analytics/events%00',
      `/api/v1/analytics/${'a/'.repeat(500)}`,
      '/admin/queues/api/queues',
      '/api/v1/analytics/stats?tenantId=%27%20OR%201%3D1',
      '/api/v1/analytics/events?__proto__[x]=1',
    ]),
    headers: json,
    body: undefined,
    label: 'odd paths',
  };
}
