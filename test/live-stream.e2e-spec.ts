import { connect } from 'node:net';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createApiApp } from '../src/app/bootstrap';
import { AnalyticsConfig } from '../src/modules/config/analytics-config';
import { liveChannel } from '../src/modules/contracts/live';
import { LiveStream } from '../src/modules/reporting/live-stream.service';
import { BATCH, TENANT, makeEvent, waitFor } from './support/events';
import { settled } from './support/queue';
import { SseClient } from './support/sse-client';
import { TestEnv, createTestEnv } from './support/test-env';
import { IngestSocket } from './support/ws-client';

const LIVE = '/api/v1/analytics/reports/live';
const SITE = '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31';

async function startExtraApi(
  t: TestEnv,
  overrides: Record<string, string> = {},
): Promise<{ app: NestExpressApplication; url: string }> {
  const app = await createApiApp(AnalyticsConfig.fromEnvironment({ ...t.env, ...overrides }));
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

describe('live stream (SSE) across two api instances', () => {
  let t: TestEnv;
  let b: { app: NestExpressApplication; url: string };
  beforeAll(async () => {
    t = await createTestEnv();
    b = await startExtraApi(t);
  });
  afterAll(async () => {
    await b.app.close();
    await t.close();
  });

  async function token(base = t.url): Promise<string> {
    const res = await fetch(`${base}${LIVE}/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.tenant.report}` },
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  }

  async function send(n: number, overrides: Record<string, unknown> = {}): Promise<void> {
    const events = Array.from({ length: n }, () => makeEvent(overrides));
    const res = await t.post(BATCH, { events });
    expect(res.status).toBe(202);
    expect(res.json.accepted).toBe(n);
  }

  it('issues stream tokens to report keys only and refuses bad tokens, keys and filters', async () => {
    const res = await t.post(`${LIVE}/token`, undefined, t.tenant.report);
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      token: expect.stringMatching(/^lst_/),
      expires_at: expect.any(String),
      tenant_id: TENANT,
    });
    expect(new Date(res.json.expires_at).getTime()).toBeGreaterThan(Date.now());
    expect((await t.post(`${LIVE}/token`, undefined, t.tenant.ingest)).status).toBe(403);
    const bad = await t.get(`${LIVE}?token=lst_nope`);
    expect(bad.status).toBe(401);
    expect(bad.json.detail).toContain('POST /api/v1/analytics/reports/live/token');
    expect((await t.get(LIVE)).status).toBe(401);
    expect((await t.get(LIVE, t.tenant.ingest)).status).toBe(403);
    const metric = await t.get(`${LIVE}?token=${res.json.token}&metrics=voice.nope`);
    expect(metric.status).toBe(400);
    expect(metric.json.errors[0].pointer).toBe('/metrics');
    expect((await t.get(`${LIVE}?token=${res.json.token}&site_id=x`)).status).toBe(400);
  });

  it('delivers a fold to a client of the other instance, filtered to the metrics it named', async () => {
    // Token from instance A, stream from instance B: tokens live in Redis.
    const tok = await token();
    const client = await SseClient.open(`${b.url}${LIVE}?token=${tok}&metrics=voice.first_response_ms.p95`);
    const other = await SseClient.open(`${b.url}${LIVE}`, { authorization: `Bearer ${t.other.report}` });
    await send(5);
    // Over the WebSocket into instance A as well.
    const ws = await IngestSocket.open(t.url, { key: t.tenant.ingest });
    ws.send({ seq: 1, events: [makeEvent(), makeEvent(), makeEvent()] });
    expect((await ws.answer(1)).accepted).toBe(3);
    await ws.close();
    await client.waitForEvents(8);
    await settled(t);
    expect(client.foldedEvents()).toBe(8);
    const buckets = client.folds().flatMap((f) => f.data.buckets);
    expect(new Set(buckets.map((x: any) => x.metric))).toEqual(new Set(['voice.first_response_ms']));
    expect(buckets.every((x: any) => x.site_id === '*' && x.source === '*')).toBe(true);
    expect(buckets.reduce((n: number, x: any) => n + x.count, 0)).toBe(8);
    expect(buckets.reduce((n: number, x: any) => n + x.sum, 0)).toBeCloseTo(8 * 412.5, 6);
    for (const f of client.folds()) expect(f.id).toMatch(/^\d+-\d+$/);
    // Another tenant's stream saw none of it.
    expect(other.foldedEvents()).toBe(0);
    client.close();
    other.close();
  });

  it('serves one site and source row when asked', async () => {
    const client = await SseClient.open(`${t.url}${LIVE}?site_id=${SITE}&source=web&metrics=ai.tool_calls.count`, {
      authorization: `Bearer ${t.tenant.report}`,
    });
    await send(2, { event_name: 'ai.tool_call_completed', source: 'web' });
    await send(1, { event_name: 'ai.tool_call_completed', source: 'voice_ws' });
    await client.waitForEvents(3);
    await settled(t);
    const buckets = client.folds().flatMap((f) => f.data.buckets);
    expect(
      buckets.every((x: any) => x.site_id === SITE && x.source === 'web' && x.metric === 'ai.tool_calls.count'),
    ).toBe(true);
    expect(buckets.reduce((n: number, x: any) => n + x.count, 0)).toBe(2);
    client.close();
  });

  it('resumes with Last-Event-ID on the other instance without losing or repeating a fold', async () => {
    const first = await SseClient.open(`${t.url}${LIVE}?token=${await token()}`);
    await send(4);
    await first.waitForEvents(4);
    const last = first.folds().at(-1)!.id!;
    first.close();
    // While no client is connected: three rounds, each folded before the next.
    for (let i = 0; i < 3; i++) {
      await send(10);
      await settled(t);
    }
    // Reconnect to instance B while more events arrive: history first, then live, nothing twice.
    const resumed = await SseClient.open(`${b.url}${LIVE}?token=${await token(b.url)}`, { 'last-event-id': last });
    const sending = (async () => {
      for (let i = 0; i < 5; i++) await send(4);
    })();
    await sending;
    await resumed.waitForEvents(50);
    await settled(t);
    expect(resumed.foldedEvents()).toBe(50);
    expect(resumed.events.filter((e) => e.event === 'reset')).toHaveLength(0);
    const ids = resumed.folds().map((f) => f.id!);
    expect(new Set(ids).size).toBe(ids.length);
    const order = (a: string, b: string) => {
      const [am, as] = a.split('-').map(Number);
      const [bm, bs] = b.split('-').map(Number);
      return am - bm || as - bs;
    };
    expect([...ids].sort(order)).toEqual(ids);
    expect(order(ids[0], last)).toBeGreaterThan(0);
    // The same resume through the query parameter (for an EventSource made anew) gives the same folds.
    const again = await SseClient.open(`${t.url}${LIVE}?token=${await token()}&last_event_id=${last}`);
    await again.waitForEvents(50);
    expect(again.folds().map((f) => f.id)).toEqual(ids);
    resumed.close();
    again.close();
  });

  it('answers an id the history no longer holds with a reset event first', async () => {
    const client = await SseClient.open(`${t.url}${LIVE}?last_event_id=1-0`, {
      authorization: `Bearer ${t.tenant.report}`,
    });
    await waitFor('the reset event', () => client.events.length > 0);
    expect(client.events[0].event).toBe('reset');
    client.close();
  });

  it('sends heartbeats, and drops a client that does not read instead of buffering for it', async () => {
    const c = await startExtraApi(t, { ANALYTICS_LIVE_HEARTBEAT_MS: '50', ANALYTICS_LIVE_MAX_BUFFER_KB: '64' });
    try {
      const beating = await SseClient.open(`${c.url}${LIVE}?token=${await token()}`);
      await waitFor('three heartbeats', () => beating.comments >= 4);
      beating.close();
      const live = c.app.get(LiveStream);
      await waitFor('the first client gone', () => live.count === 0);

      // A client that reads nothing: the server's unsent output grows until it is dropped.
      const port = Number(new URL(c.url).port);
      const socket = connect(port, '127.0.0.1');
      socket.write(
        `GET ${LIVE}?token=${await token()} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
      );
      socket.pause();
      await waitFor('the stream open', () => live.count === 1);
      const fold = JSON.stringify({
        folded_at: new Date().toISOString(),
        events: 1,
        buckets: Array.from({ length: 400 }, (_, i) => ({
          metric: 'voice.first_response_ms',
          bucket: `2026-01-01T00:00:00.${String(i).padStart(3, '0')}Z`,
          site_id: '*',
          source: '*',
          count: 1,
          num: 0,
          sum: 1,
          min: 1,
          max: 1,
        })),
      });
      let seq = 0;
      await waitFor(
        'the slow client dropped',
        async () => {
          for (let i = 0; i < 20; i++)
            await t.redis.publish(liveChannel(t.config.redis.prefix), `${TENANT}|9${Date.now()}-${seq++}|${fold}`);
          return live.count === 0;
        },
        30000,
        1,
      );
      expect(live.count).toBe(0);
      socket.destroy();
    } finally {
      await c.app.close();
    }
  });

  it('ends its streams at shutdown so clients reconnect elsewhere', async () => {
    const c = await startExtraApi(t);
    const client = await SseClient.open(`${c.url}${LIVE}?token=${await token()}`);
    await c.app.close();
    await waitFor('the stream ended', () => client.ended);
  });
});
