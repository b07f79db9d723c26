import { randomUUID } from 'node:crypto';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createApiApp } from '../src/app/bootstrap';
import { AnalyticsConfig } from '../src/modules/config/analytics-config';
import { BacklogGate } from '../src/modules/ingestion/backlog-gate';
import { EVENTS, OTHER_TENANT, TENANT, makeEvent, waitFor } from './support/events';
import { countLedger, countRows, drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';
import { seedTenant } from './support/tenants';
import { IngestSocket, refusal } from './support/ws-client';
import { startApiProcess } from './support/worker-process';

const ids = (events: object[]) => events.map((e) => (e as { event_id: string }).event_id);

/** The events of every job in the ingest queue (waiting, active or completed), by event id. */
async function queuedEvents(t: TestEnv): Promise<Map<string, any[]>> {
  const jobs = await t.ingestQueue.getJobs(['waiting', 'active', 'completed', 'delayed']);
  const out = new Map<string, any[]>();
  for (const j of jobs) {
    for (const e of (j.data as { events?: any[] }).events ?? []) {
      const ev = e.event ?? e; // quarantine jobs carry {event, errors}
      out.set(ev.event_id, [...(out.get(ev.event_id) ?? []), ev]);
    }
  }
  return out;
}

async function startExtraApi(
  t: TestEnv,
  overrides: Record<string, string>,
): Promise<{ app: NestExpressApplication; url: string }> {
  const app = await createApiApp(AnalyticsConfig.fromEnvironment({ ...t.env, ...overrides }));
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

describe('WebSocket ingestion over a real socket', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({
      ANALYTICS_RATE_LIMIT_RPS: '100000',
      ANALYTICS_RATE_LIMIT_EPS: '1000000',
      ANALYTICS_MAX_PAYLOAD_KB: '16',
    });
    // The other tenant keeps what fails its content schema apart instead of refusing it.
    await t.db.query(`UPDATE analytics_tenants SET validation_mode = 'quarantine' WHERE id = $1`, [OTHER_TENANT]);
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers each message with its seq and the verdicts HTTP gives, and queues exactly what HTTP queues', async () => {
    const ws = await IngestSocket.open(t.url, { key: t.tenant.ingest });
    const single = makeEvent();
    ws.send({ seq: 1, event: single });
    const invalid = makeEvent({ occurred_at: 'yesterday' });
    const dropped = makeEvent({ context: { consent: { analytics: false } } });
    const fine = makeEvent({ event_name: 'kb.search' });
    ws.send({ seq: 2, events: [fine, invalid, dropped, single], batch_id: 'b-1' });
    ws.send({ seq: 'three', event: makeEvent({ occurred_at: 'never' }) });

    expect(await ws.answer(1)).toEqual({
      type: 'verdicts',
      seq: 1,
      received: 1,
      accepted: 1,
      duplicate: 0,
      dropped: 0,
      quarantined: 0,
      rejected: 0,
      results: [{ index: 0, event_id: single.event_id, status: 'accepted' }],
    });
    const batch = await ws.answer(2);
    expect(batch).toMatchObject({
      type: 'verdicts',
      seq: 2,
      batch_id: 'b-1',
      received: 4,
      accepted: 1,
      duplicate: 1,
      dropped: 1,
      rejected: 1,
    });
    expect(batch.results.map((r: any) => r.status)).toEqual(['accepted', 'rejected', 'dropped', 'duplicate']);
    expect(batch.results[1].errors[0]).toMatchObject({ pointer: '/occurred_at' });
    const rejected = await ws.answer('three');
    expect(rejected).toMatchObject({ type: 'verdicts', seq: 'three', received: 1, rejected: 1 });
    expect(rejected.results[0].errors.length).toBeGreaterThan(0);

    // Over HTTP, the same rejected event: the same errors.
    const http = await t.post(EVENTS, makeEvent({ occurred_at: 'never', event_id: rejected.results[0].event_id }));
    expect(http.status).toBe(400);
    expect(http.json.errors).toEqual(rejected.results[0].errors);

    // The quarantine-mode tenant: a content failure is answered quarantined, with its errors.
    const q = await IngestSocket.open(t.url, { key: t.other.ingest });
    const bad = makeEvent({ tenant_id: OTHER_TENANT, attributes: { 'voice.first_response_ms': 'slow' } });
    q.send({ seq: 7, event: bad });
    const qa = await q.answer(7);
    expect(qa.results).toEqual([
      { index: 0, event_id: bad.event_id, status: 'quarantined', errors: expect.any(Array) },
    ]);
    await q.close();

    // What was queued for the WebSocket event equals what HTTP queues for the same event (sanitized the same way).
    const twin = { ...single, event_id: randomUUID() };
    expect((await t.post(EVENTS, twin)).status).toBe(202);
    await drained(t.ingestQueue);
    const queued = await queuedEvents(t);
    expect(queued.get(single.event_id as string)).toHaveLength(1);
    const viaWs = queued.get(single.event_id as string)![0];
    const viaHttp = queued.get(twin.event_id)![0];
    const strip = (e: any) => ({ ...e, event_id: null, received_at: null });
    expect(strip(viaWs)).toEqual(strip(viaHttp));
    expect(queued.has(bad.event_id as string)).toBe(true);
    expect(queued.has(dropped.event_id as string)).toBe(false);
    expect(queued.has(invalid.event_id as string)).toBe(false);
    await waitFor(
      'the accepted events stored',
      async () => (await countRows(t.db, 'event_id = ANY($1)', [[single.event_id, fine.event_id]])) === 2,
    );
    await ws.close();
  });

  it('answers duplicate for events resent after a reconnect, and stores each once', async () => {
    const events = Array.from({ length: 6 }, () => makeEvent());
    const first = await IngestSocket.open(t.url, { key: t.tenant.ingest });
    events.slice(0, 3).forEach((e, i) => first.send({ seq: i, event: e }));
    first.send({ seq: 3, events: events.slice(3) });
    for (let i = 0; i < 4; i++) await first.answer(i);
    // The connection drops; the client resends everything (it cannot know what was acknowledged) plus new ones.
    first.ws.terminate();
    const fresh = [makeEvent(), makeEvent()];
    const again = await IngestSocket.open(t.url, { key: t.tenant.ingest });
    again.send({ seq: 0, events: [...events, ...fresh] });
    const a = await again.answer(0);
    expect(a.results.map((r: any) => r.status)).toEqual([...events.map(() => 'duplicate'), 'accepted', 'accepted']);
    await drained(t.ingestQueue);
    const all = ids([...events, ...fresh]);
    await waitFor('8 rows', async () => (await countRows(t.db, 'event_id = ANY($1)', [all])) === 8);
    expect(await countLedger(t.db, 'event_id = ANY($1)', [all])).toBe(8);
    await again.close();
  });

  it('answers bad input with an error for its seq and keeps the connection open', async () => {
    const ws = await IngestSocket.open(t.url, { key: t.tenant.ingest });
    ws.send('{"seq": 1, "event": {');
    ws.send({ event: makeEvent() });
    ws.send({ seq: 5, event: makeEvent(), extra: true });
    ws.send({ seq: 6 });
    ws.send({ seq: 8, events: 'many' });
    ws.send({ seq: 9, events: [] });
    await waitFor('two answers without a seq', () => ws.unseq.length === 2);
    expect(ws.unseq[0]).toMatchObject({
      type: 'error',
      seq: null,
      error: { status: 400, type: expect.stringMatching(/invalid-json$/) },
    });
    expect(ws.unseq[1]).toMatchObject({ type: 'error', seq: null, error: { detail: expect.stringContaining('/seq') } });
    expect(await ws.answer(5)).toMatchObject({
      type: 'error',
      seq: 5,
      error: { status: 400, detail: expect.stringContaining('"extra"') },
    });
    expect(await ws.answer(6)).toMatchObject({
      type: 'error',
      seq: 6,
      error: { detail: expect.stringContaining('neither') },
    });
    expect(await ws.answer(8)).toMatchObject({
      type: 'error',
      seq: 8,
      error: { status: 400, detail: expect.stringContaining('/events') },
    });
    expect(await ws.answer(9)).toMatchObject({
      type: 'error',
      seq: 9,
      error: { detail: expect.stringContaining('empty') },
    });
    const ok = makeEvent();
    ws.send({ seq: 10, event: ok });
    expect((await ws.answer(10)).results[0]).toEqual({ index: 0, event_id: ok.event_id, status: 'accepted' });
    expect(ws.closed).toBeNull();
    await ws.close();
  });

  it('closes with 1009 and a reason on a message over the size limit, storing nothing of it', async () => {
    const ws = await IngestSocket.open(t.url, { key: t.tenant.ingest });
    const big = makeEvent({ attributes: { 'voice.first_response_ms': 1, pad: 'x'.repeat(17 * 1024) } });
    ws.send({ seq: 1, event: big });
    const closed = await ws.waitClosed();
    expect(closed.code).toBe(1009);
    expect(closed.reason).toMatch(/over the 16 KB limit/);
    expect(ws.answers.size).toBe(0);
    expect(await t.redis.exists(`${t.config.redis.prefix}:dedupe:${TENANT}:${big.event_id as string}`)).toBe(0);
  });

  it('refuses a handshake without a valid ingest key or from a foreign origin, with the HTTP problem', async () => {
    expect((await refusal(IngestSocket.open(t.url, {}))).status).toBe(401);
    const wrong = await refusal(IngestSocket.open(t.url, { key: 'ak_000000000000_' + 'A'.repeat(43) }));
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ status: 401, type: expect.stringMatching(/unauthorized$/) });
    const scope = await refusal(IngestSocket.open(t.url, { key: t.tenant.report }));
    expect(scope.status).toBe(403);
    expect(scope.body.required_scope).toBe('ingest');
    const origin = await refusal(
      IngestSocket.open(t.url, { key: t.tenant.ingest, headers: { origin: 'https://evil.example' } }),
    );
    expect(origin.status).toBe(403);
    expect(origin.body.detail).toContain('CORS allow-list');
    // The browser way: the key offered as a subprotocol, never in the URL; the server picks analytics.v1 only.
    const browser = await IngestSocket.open(t.url, { protocols: ['analytics.v1', `bearer.${t.tenant.ingest}`] });
    expect(browser.ws.protocol).toBe('analytics.v1');
    const e = makeEvent();
    browser.send({ seq: 1, event: e });
    expect((await browser.answer(1)).accepted).toBe(1);
    await browser.close();
    // A wrong path is a 404, not an upgrade.
    const lost = await refusal(
      IngestSocket.open(t.url, { key: t.tenant.ingest, path: '/api/v1/analytics/events/wss' }),
    );
    expect(lost.status).toBe(404);
    expect(lost.body.detail).toContain('/api/v1/analytics/events/ws');
  });

  it('answers rate-limited messages with an error and retry_after_s, and closes a flood with 1008', async () => {
    const limited = await seedTenant(t.db, randomUUID(), { rps: 5, eps: 5 });
    const ws = await IngestSocket.open(t.url, { key: limited.ingest });
    const events = Array.from({ length: 40 }, () => makeEvent({ tenant_id: limited.id }));
    events.forEach((e, i) => ws.send({ seq: i, event: e }));
    const closed = await ws.waitClosed();
    expect(closed.code).toBe(1008);
    expect(closed.reason).toMatch(/rate limit/);
    const answers = [...ws.answers.values()];
    const denied = answers.filter((a) => a.type === 'error');
    expect(denied.length).toBeGreaterThanOrEqual(10);
    for (const d of denied) {
      expect(d.error).toMatchObject({ status: 429, type: expect.stringMatching(/rate-limited$/) });
      expect(d.retry_after_s ?? d.error.retry_after_s).toBeGreaterThanOrEqual(1);
    }
    const accepted = answers.filter((a) => a.type === 'verdicts').flatMap((a) => a.results);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(accepted.every((r: any) => r.status === 'accepted')).toBe(true);
    // Exactly the acknowledged events are stored; nothing refused is.
    await drained(t.ingestQueue);
    await waitFor(
      'the accepted events stored',
      async () => (await countRows(t.db, 'tenant_id = $1', [limited.id])) === accepted.length,
    );
    expect(await countLedger(t.db, 'tenant_id = $1', [limited.id])).toBe(accepted.length);
  });

  it('keeps the connection alive with pings and closes it with 4001 when idle', async () => {
    const extra = await startExtraApi(t, { ANALYTICS_WS_IDLE_TIMEOUT_MS: '600', ANALYTICS_WS_PING_INTERVAL_MS: '50' });
    try {
      const ws = await IngestSocket.open(extra.url, { key: t.tenant.ingest });
      await waitFor('two pings', () => ws.pings >= 2);
      const closed = await ws.waitClosed();
      expect(closed).toEqual({ code: 4001, reason: 'idle: no message for 600 ms' });
    } finally {
      await extra.app.close();
    }
  });

  it('stores 10,000 events sent over 20 concurrent sockets exactly once', async () => {
    const sockets = await Promise.all(
      Array.from({ length: 20 }, () => IngestSocket.open(t.url, { key: t.tenant.ingest })),
    );
    const sent: string[] = [];
    const run = sockets.map(async (ws, s) => {
      // 100 single events and 40 batches of 10 per socket: 500 each.
      let seq = 0;
      const waits: Promise<any>[] = [];
      for (let i = 0; i < 140; i++) {
        const msgSeq = seq++;
        if (i % 7 < 5) {
          const e = makeEvent({ session_id: randomUUID() });
          sent.push(e.event_id as string);
          ws.send({ seq: msgSeq, event: e });
        } else {
          const batch = Array.from({ length: 10 }, () => makeEvent());
          sent.push(...ids(batch));
          ws.send({ seq: msgSeq, events: batch, batch_id: `s${s}-${i}` });
        }
        waits.push(ws.answer(msgSeq, 60000));
      }
      return Promise.all(waits);
    });
    const answers = (await Promise.all(run)).flat();
    expect(sent).toHaveLength(10_000);
    const statuses = answers.flatMap((a) => a.results.map((r: any) => r.status));
    expect(statuses).toHaveLength(10_000);
    expect(statuses.every((s) => s === 'accepted')).toBe(true);
    await drained(t.ingestQueue, 60000);
    await waitFor('10,000 rows', async () => (await countRows(t.db, 'event_id = ANY($1)', [sent])) === 10_000, 60000);
    expect(await countLedger(t.db, 'event_id = ANY($1)', [sent])).toBe(10_000);
    const dupes = await t.db.query(
      'SELECT count(*)::int AS n FROM (SELECT event_id FROM analytics_events_raw WHERE event_id = ANY($1) GROUP BY event_id HAVING count(*) > 1) d',
      [sent],
    );
    expect(dupes.rows[0].n).toBe(0);
    await Promise.all(sockets.map((s) => s.close()));
  });
});

describe('WebSocket ingestion: backlog gate and shutdown', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_MAX_QUEUE_BACKLOG: '2' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers retry_after while the backlog gate is closed, storing and claiming nothing', async () => {
    const ws = await IngestSocket.open(t.url, { key: t.tenant.ingest });
    // No worker: three jobs of three batches put the backlog over its limit of 2.
    for (let i = 0; i < 3; i++)
      expect((await t.post('/api/v1/analytics/events/batch', { events: [makeEvent()] })).status).toBe(202);
    const gate = t.api!.get(BacklogGate);
    await waitFor('the backlog gate to close', () => gate.retryAfter() !== null);
    const before = await t.ingestQueue.getJobCounts('waiting');
    const e = makeEvent();
    ws.send({ seq: 1, event: e });
    ws.send({ seq: 2, events: [makeEvent(), makeEvent()] });
    for (const seq of [1, 2]) {
      expect(await ws.answer(seq)).toEqual({
        type: 'retry_after',
        seq,
        retry_after_s: 2,
        detail: expect.stringContaining('ANALYTICS_MAX_QUEUE_BACKLOG'),
      });
    }
    expect(await t.ingestQueue.getJobCounts('waiting')).toEqual(before);
    expect(await t.redis.exists(`${t.config.redis.prefix}:dedupe:${TENANT}:${e.event_id as string}`)).toBe(0);
    expect(ws.closed).toBeNull();
    await ws.close();
    await t.ingestQueue.drain();
  });

  it('on SIGTERM answers every message it took, closes with 1012, and loses no acknowledged event', async () => {
    await t.ingestQueue.drain();
    const api = await startApiProcess({ ...t.env, ANALYTICS_MAX_QUEUE_BACKLOG: '100000', LOG_LEVEL: 'log' });
    const sockets = await Promise.all(
      Array.from({ length: 3 }, () => IngestSocket.open(api.base, { key: t.tenant.ingest })),
    );
    const sent = sockets.map((ws) => {
      const events = Array.from({ length: 30 }, () => makeEvent());
      events.forEach((e, i) => ws.send({ seq: i, event: e }));
      return events;
    });
    // The server has begun answering each socket's messages.
    await Promise.all(sockets.map((ws) => ws.answer(0)));
    api.child.kill('SIGTERM');
    const closes = await Promise.all(sockets.map((ws) => ws.waitClosed()));
    for (const c of closes) {
      expect(c.code).toBe(1012);
      expect(c.reason).toMatch(/restarting/);
    }
    expect((await api.exited).code).toBe(0);
    const acknowledged: string[] = [];
    const unanswered: Record<string, unknown>[] = [];
    sockets.forEach((ws, s) =>
      sent[s].forEach((e, i) => {
        const a = ws.answers.get(String(i));
        if (a?.type === 'verdicts')
          acknowledged.push(...a.results.filter((r: any) => r.status === 'accepted').map((r: any) => r.event_id));
        else unanswered.push(e);
      }),
    );
    expect(acknowledged.length).toBeGreaterThanOrEqual(3);
    // Every acknowledged event is in a job in Redis.
    const queued = await queuedEvents(t);
    for (const id of acknowledged) expect(queued.get(id)).toHaveLength(1);
    // The client reconnects elsewhere and resends what was not acknowledged: all accepted, then stored once with the rest.
    if (unanswered.length) {
      const ws = await IngestSocket.open(t.url, { key: t.tenant.ingest });
      ws.send({ seq: 0, events: unanswered });
      const a = await ws.answer(0);
      expect(a.accepted).toBe(unanswered.length);
      await ws.close();
    }
    await t.startWorker();
    const all = sent.flat().map((e) => e.event_id as string);
    await drained(t.ingestQueue);
    await waitFor('all 90 events stored', async () => (await countRows(t.db, 'event_id = ANY($1)', [all])) === 90);
    expect(await countLedger(t.db, 'event_id = ANY($1)', [all])).toBe(90);
  });
});
