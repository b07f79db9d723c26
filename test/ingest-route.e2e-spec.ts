import http from 'node:http';
import { IngestRoute } from '../src/modules/ingestion/ingest-route';
import { BATCH, EVENTS, OTHER_TENANT, makeEvent, waitFor } from './support/events';
import { HttpAnswer, TestEnv, createTestEnv } from './support/test-env';

/**
 * The ingestion endpoints are answered in front of Express by the IngestRoute; requests it does not
 * claim (here: the same endpoints with a trailing slash) go through Express and the Nest controller.
 * Both lanes must give the same answer to every request: status, headers and body.
 */
describe('ingest route: the same answers as the Nest controller', () => {
  let t: TestEnv;
  let fastLane = 0;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_MAX_PAYLOAD_KB: '8' });
    const route = t.api!.get(IngestRoute);
    const handle = route.handle.bind(route);
    route.handle = (...args) => {
      fastLane++;
      return handle(...args);
    };
  });
  afterAll(async () => {
    await t.close();
  });

  // Headers that differ between any two answers whatever answers them.
  const VOLATILE = new Set([
    'date',
    'content-length',
    'ratelimit-remaining',
    'ratelimit-reset',
    'keep-alive',
    'connection',
  ]);
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const shape = (a: HttpAnswer) => ({
    status: a.status,
    headers: Object.fromEntries(
      [...a.headers]
        .filter(([k]) => !VOLATILE.has(k))
        // Each answer has a request id of its own; both lanes give one.
        .map(([k, v]) => [k, k === 'x-request-id' ? (UUID.test(v) ? '<uuid>' : v) : v])
        .sort(([x], [y]) => x.localeCompare(y)),
    ),
    body: a.text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>'),
  });

  const cases: { name: string; path: string; send: (path: string) => Promise<HttpAnswer>; status: number }[] = [
    { name: 'a valid event', path: EVENTS, status: 202, send: (p) => t.post(p, makeEvent()) },
    { name: 'an invalid event', path: EVENTS, status: 400, send: (p) => t.post(p, makeEvent({ attributes: {} })) },
    {
      name: "another tenant's event",
      path: EVENTS,
      status: 400,
      send: (p) => t.post(p, makeEvent({ tenant_id: OTHER_TENANT })),
    },
    {
      name: 'a batch with a valid and an invalid event',
      path: BATCH,
      status: 202,
      send: (p) => t.post(p, { events: [makeEvent(), makeEvent({ occurred_at: 'yesterday' })], batch_id: 'b-1' }),
    },
    { name: 'a batch that is an array', path: BATCH, status: 400, send: (p) => t.post(p, [makeEvent()]) },
    { name: 'invalid JSON', path: EVENTS, status: 400, send: (p) => t.post(p, '{"event_id": ') },
    {
      name: 'JSON after a byte order mark',
      path: EVENTS,
      status: 202,
      send: (p) => t.post(p, `\uFEFF${JSON.stringify(makeEvent())}`),
    },
    { name: 'an empty body', path: EVENTS, status: 400, send: (p) => t.post(p, '') },
    { name: 'no credential', path: EVENTS, status: 401, send: (p) => t.post(p, makeEvent(), null) },
    {
      name: 'a key without the ingest scope',
      path: BATCH,
      status: 403,
      send: (p) => t.post(p, { events: [makeEvent()] }, t.tenant.report),
    },
    {
      name: 'an Origin outside the allow-list',
      path: EVENTS,
      status: 403,
      send: (p) => t.post(p, makeEvent(), undefined, { origin: 'https://elsewhere.example' }),
    },
    {
      name: 'a body over the limit',
      path: BATCH,
      status: 413,
      send: (p) => t.post(p, { events: Array.from({ length: 30 }, () => makeEvent()) }),
    },
    { name: 'a chunked body over the limit', path: EVENTS, status: 413, send: (p) => chunked(p, 3, 4096) },
    { name: 'a chunked body within the limit', path: EVENTS, status: 202, send: (p) => chunked(p, 1, 0) },
  ];

  it.each(cases)('$name: $status from both lanes, identical', async ({ path, send, status }) => {
    const before = fastLane;
    const fast = await send(path);
    expect(fastLane).toBe(before + 1);
    const viaExpress = await send(`${path}/`);
    expect(fastLane).toBe(before + 1);
    expect(fast.status).toBe(status);
    expect(shape(fast)).toEqual(shape(viaExpress));
  });

  it('stores what both lanes accepted, once each', async () => {
    const events = [makeEvent(), makeEvent()];
    expect((await t.post(EVENTS, events[0])).json.status).toBe('accepted');
    expect((await t.post(`${EVENTS}/`, events[1])).json.status).toBe('accepted');
    expect((await t.post(EVENTS, events[1])).json.status).toBe('duplicate');
    expect((await t.post(`${EVENTS}/`, events[0])).json.status).toBe('duplicate');
    await waitFor(
      'both events stored',
      async () =>
        (
          await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw WHERE event_id = ANY($1)', [
            events.map((e) => e.event_id),
          ])
        ).rows[0].n === 2,
    );
    const rows = await t.db.query(
      'SELECT event_id FROM analytics_events_raw WHERE event_id = ANY($1) ORDER BY event_id',
      [events.map((e) => e.event_id)],
    );
    expect(rows.rows.map((r) => r.event_id)).toEqual(events.map((e) => e.event_id).sort());
  });

  /** POSTs with Transfer-Encoding: chunked: `pieces` chunks of `padding` spaces around one event. */
  function chunked(path: string, pieces: number, padding: number): Promise<HttpAnswer> {
    const { port } = new URL(t.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.ingest}` },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => {
            let json: unknown = null;
            try {
              json = JSON.parse(text);
            } catch {
              /* not JSON */
            }
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            resolve({ status: res.statusCode!, headers, json, text });
          });
        },
      );
      req.on('error', reject);
      req.write(JSON.stringify(makeEvent()));
      for (let i = 0; i < pieces; i++) req.write(' '.repeat(padding));
      req.end();
    });
  }
});
