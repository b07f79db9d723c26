import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildPageView,
  buildSelfDescribingEvent,
  buildStructEvent,
  newTracker,
  type EventBatch,
  type Tracker,
} from '@snowplow/node-tracker';
import { drained } from './support/queue';
import { waitFor } from './support/events';
import { TestEnv, createTestEnv, request } from './support/test-env';

const SCHEMAS = '/api/v1/analytics/schemas';
const CORPUS = join(__dirname, 'fixtures', 'iglu', 'schemas');
const CHECKOUT = 'iglu:com.acme/checkout/jsonschema/1-0-0';
const DEVICE = 'iglu:com.acme/device/jsonschema/1-0-0';
const readSchema = (uri: string) => {
  const [, path] = /^iglu:(.*)$/.exec(uri)!;
  const [vendor, name, format, version] = path.split('/');
  return JSON.parse(readFileSync(join(CORPUS, vendor, name, format, version), 'utf8')) as Record<string, unknown>;
};

interface Answer {
  status: number;
  body: any;
}

/**
 * The real Snowplow Node tracker (@snowplow/node-tracker, its own fetch emitter) against the api
 * over a socket: self-describing events with contexts, a page view, a structured event; invalid
 * data and planted personal data; a retry after a lost answer, which must be a duplicate.
 */
describe('Snowplow tracker protocol with the real Node tracker', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv();
    for (const uri of [CHECKOUT, DEVICE]) {
      const res = await t.post(SCHEMAS, { uri, schema: readSchema(uri) }, t.tenant.admin);
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await t.close();
  });

  /** A tracker whose answers are recorded; `lose` makes the emitter see a 503 for the next N answers, after the api took them. */
  const tracker = (endpoint: string, headers: Record<string, string> = {}, eventMethod: 'post' | 'get' = 'post') => {
    const answers: Answer[] = [];
    const sent: EventBatch[] = [];
    let lose = 0;
    const tr: Tracker = newTracker(
      { namespace: 'shop', appId: 'shop-server', encodeBase64: true },
      {
        endpoint,
        eventMethod,
        bufferSize: 10,
        customHeaders: headers,
        customFetch: async (req: Request) => {
          const res = await fetch(req);
          const text = await res.text();
          const body = res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
          answers.push({ status: res.status, body });
          if (lose > 0) {
            lose--;
            return new Response('lost', { status: 503 });
          }
          return new Response(text, { status: res.status, headers: res.headers });
        },
        onRequestSuccess: (batch) => sent.push(batch),
      },
    );
    return { tr, answers, sent, loseNext: (n: number) => (lose = n) };
  };

  const stored = async (ids: string[]) =>
    (
      await t.db.query(
        `SELECT event_id, event_name, attributes, payload, context, user_id, source FROM analytics_events_raw
         WHERE tenant_id = $1 AND event_id = ANY($2::uuid[]) ORDER BY occurred_at`,
        [t.tenant.id, ids],
      )
    ).rows;

  it('stores self-describing events with their contexts, page views and structured events exactly once, retries as duplicates, PII redacted', async () => {
    const { tr, answers, loseNext } = tracker(t.url, { 'X-Analytics-Key': t.tenant.ingest });
    tr.setUserId('jane.doe@example.com');
    const ids: Record<'checkout' | 'invalid' | 'page' | 'struct', string> = {
      checkout: '',
      invalid: '',
      page: '',
      struct: '',
    };
    const device = {
      schema: DEVICE,
      data: { device_id: '0123456789abcdef', os: 'web', screen: [1280, 720] },
    };
    tr.track(
      buildSelfDescribingEvent({
        event: {
          schema: CHECKOUT,
          data: {
            order_id: '3f2c8a4e-1b2d-4c5e-8f90-123456789abc',
            total: 42.5,
            currency: 'EUR',
            line: ['sku-1'],
            customer: { segment: 'vip' },
            email: 'jane.doe@example.com',
          },
        },
      }),
      [device],
      { type: 'dtm', value: Date.now() },
    );
    // Invalid: total must exceed 0 (draft-04 exclusiveMinimum), and the context lacks device_id.
    tr.track(
      buildSelfDescribingEvent({ event: { schema: CHECKOUT, data: { order_id: '0123456789abcdef', total: 0 } } }),
      [{ schema: DEVICE, data: { os: 'web' } }],
    );
    tr.track(
      buildPageView({
        pageUrl: 'https://shop.example.com/cart?email=jane.doe@example.com',
        pageTitle: 'Cart of jane.doe@example.com',
        referrer: 'https://search.example.net/?q=shoes',
      }),
    );
    tr.track(buildStructEvent({ category: 'checkout', action: 'coupon_applied', label: 'SPRING', value: 5 }));
    // The tracker sets its own event ids (eid); read them from what it queued.
    loseNext(1);
    await tr.flush();
    expect(answers).toHaveLength(1);
    expect(answers[0].status).toBe(200);
    expect(answers[0].body).toMatchObject({ received: 4, accepted: 3, rejected: 1, duplicate: 0 });
    const results = answers[0].body.results as { index: number; event_id: string; status: string; errors?: any[] }[];
    ids.checkout = results[0].event_id;
    ids.invalid = results[1].event_id;
    ids.page = results[2].event_id;
    ids.struct = results[3].event_id;
    expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted', 'accepted']);
    expect(results[1].errors).toEqual([
      expect.objectContaining({ pointer: '/payload/data/total', schema: CHECKOUT }),
      expect.objectContaining({ pointer: '/context/entities/0/data/device_id', keyword: 'required', schema: DEVICE }),
    ]);

    // The emitter saw a 503 (its answer lost): it sends the same events again, which are duplicates.
    await tr.flush();
    expect(answers).toHaveLength(2);
    expect(answers[1].status).toBe(200);
    expect(answers[1].body.results.map((r: any) => [r.event_id, r.status])).toEqual([
      [ids.checkout, 'duplicate'],
      [ids.invalid, 'rejected'],
      [ids.page, 'duplicate'],
      [ids.struct, 'duplicate'],
    ]);

    await drained(t.ingestQueue);
    const rows = await stored(Object.values(ids));
    expect(rows.map((r) => r.event_id).sort()).toEqual([ids.checkout, ids.page, ids.struct].sort());
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    const checkout = byId.get(ids.checkout);
    expect(checkout.event_name).toBe('snowplow.self_describing');
    expect(checkout.source).toBe('server');
    expect(checkout.attributes).toMatchObject({
      'iglu.schema': CHECKOUT,
      'snowplow.app_id': 'shop-server',
      'snowplow.namespace': 'shop',
    });
    expect(checkout.payload).toEqual({
      schema: CHECKOUT,
      data: {
        order_id: '3f2c8a4e-1b2d-4c5e-8f90-123456789abc',
        total: 42.5,
        currency: 'EUR',
        line: ['sku-1'],
        customer: { segment: 'vip' },
        email: '[redacted:email]',
      },
    });
    expect(checkout.context.entities).toEqual([device]);
    const page = byId.get(ids.page);
    expect(page.event_name).toBe('snowplow.page_view');
    expect(page.context.page).toEqual({
      url: '/cart',
      referrer: 'search.example.net',
      title: expect.not.stringContaining('jane.doe@example.com'),
    });
    const struct = byId.get(ids.struct);
    expect(struct.event_name).toBe('snowplow.structured');
    expect(struct.attributes).toMatchObject({
      'se.category': 'checkout',
      'se.action': 'coupon_applied',
      'se.label': 'SPRING',
      'se.value': 5,
    });
    // The user id, an e-mail address, never reaches storage as it was sent.
    for (const r of rows) expect(r.user_id).not.toContain('jane.doe');
    const everything = JSON.stringify(rows);
    expect(everything).not.toContain('jane.doe@example.com');
  });

  it('takes the key in a tenant-scoped collector path, by POST and by GET (answered with a pixel)', async () => {
    const endpoint = `${t.url}/t/${encodeURIComponent(t.tenant.ingest)}`;
    const post = tracker(endpoint);
    post.tr.track(buildStructEvent({ category: 'keyed', action: 'post' }));
    await post.tr.flush();
    expect(post.answers.map((a) => [a.status, a.body.accepted])).toEqual([[200, 1]]);

    const get = tracker(endpoint, {}, 'get');
    get.tr.track(buildStructEvent({ category: 'keyed', action: 'get' }));
    await get.tr.flush();
    expect(get.answers).toHaveLength(1);
    expect(get.answers[0].status).toBe(200);
    const pixel = await request(`${endpoint}/i?e=pv&eid=${randomUUID()}&p=web&url=https%3A%2F%2Fshop.example.com%2F`);
    expect(pixel.status).toBe(200);
    expect(pixel.headers.get('content-type')).toBe('image/gif');
    expect(pixel.headers.get('analytics-verdict')).toBe('accepted');

    await drained(t.ingestQueue);
    await waitFor(
      'the keyed events',
      async () =>
        (
          await t.db.query(
            `SELECT count(*)::int AS n FROM analytics_events_raw WHERE tenant_id = $1 AND attributes->>'se.category' = 'keyed'`,
            [t.tenant.id],
          )
        ).rows[0].n === 2,
    );
  });

  it('answers what is not the tracker protocol, or not authorized, as trackers expect', async () => {
    const tp2 = `${t.url}/com.snowplowanalytics.snowplow/tp2`;
    const send = (body: unknown, key: string | null = t.tenant.ingest) =>
      request(tp2, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'x-analytics-key': key } : {}) },
        body: JSON.stringify(body),
      });
    const notPayload = await send({ events: [] });
    expect(notPayload.status).toBe(400); // a tracker does not resend a 400
    expect(notPayload.json).toMatchObject({ title: 'Invalid tracker payload' });
    const schema = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';
    expect((await send({ schema, data: [{ e: 'pv', eid: randomUUID() }] }, null)).status).toBe(401);
    expect((await send({ schema, data: [{ e: 'pv', eid: randomUUID() }] }, t.tenant.report)).status).toBe(403);
    const mixed = await send({
      schema,
      data: [
        { e: 'pv', p: 'web' },
        { e: 'tr', eid: randomUUID() },
        { e: 'ue', eid: randomUUID(), ue_px: '%%%' },
        {
          e: 'ue',
          eid: randomUUID(),
          ue_pr: JSON.stringify({
            schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0',
            data: { schema: 'iglu:com.acme/nothing/jsonschema/1-0-0', data: {} },
          }),
        },
      ],
    });
    expect(mixed.status).toBe(200);
    expect(mixed.json.results.map((r: any) => [r.status, r.errors[0].pointer])).toEqual([
      ['rejected', '/data/0/eid'],
      ['rejected', '/data/1/e'],
      ['rejected', '/data/2/ue_px'],
      ['rejected', '/payload/schema'], // translated, then refused by validation: the tenant has no such schema
    ]);
  });
});
