import { EVENTS, makeEvent, waitFor } from './support/events';
import { drained, countRows } from './support/queue';
import { TcpProxy } from './support/tcp-proxy';
import { TestEnv, createTestEnv } from './support/test-env';
import { urlFor } from './support/database';

describe('health probes and ingestion when a dependency is lost', () => {
  const pg = new TcpProxy('127.0.0.1', 5432);
  const redis = new TcpProxy('127.0.0.1', 6379);
  let t: TestEnv;

  beforeAll(async () => {
    await pg.start();
    await redis.start();
    // The api reaches Postgres and Redis only through the proxies; the test's own clients go direct.
    t = await createTestEnv({}, { api: false, worker: false });
    const dbUrl = new URL(urlFor(t.dbName));
    dbUrl.port = String(pg.port);
    t.reconfigure({ DATABASE_URL: dbUrl.toString(), REDIS_URL: `redis://127.0.0.1:${redis.port}` });
    await t.startApi();
  });
  afterAll(async () => {
    await t.close();
    await pg.cut();
    await redis.cut();
  });

  it('all probes answer 200 when everything is up', async () => {
    for (const path of ['health', 'events/health', 'health/live', 'health/ready']) {
      const res = await t.get(`/api/v1/analytics/${path}`);
      expect([path, res.status]).toEqual([path, 200]);
    }
    const full = await t.get('/api/v1/analytics/health');
    expect(Object.keys(full.json.details).sort()).toEqual(['ingest_queue', 'postgres', 'redis']);
  });

  it('Postgres unreachable: /health and /health/ready answer 503 naming postgres; liveness and ingestion stay up', async () => {
    expect((await t.post(EVENTS, makeEvent())).status).toBe(202); // this key is now known to the api
    await pg.cut();
    try {
      const health = await t.get('/api/v1/analytics/health');
      expect(health.status).toBe(503);
      expect(health.headers.get('content-type')).toMatch(/problem\+json/);
      expect(health.json).toMatchObject({
        status: 503,
        title: 'Unhealthy',
        failing: ['postgres'],
        detail: 'Failing check(s): postgres',
      });
      expect(health.json.checks.redis.status).toBe('up');
      expect((await t.get('/api/v1/analytics/health/ready')).json.failing).toEqual(['postgres']);
      expect((await t.get('/api/v1/analytics/health/live')).status).toBe(200);
      expect((await t.get('/api/v1/analytics/events/health')).status).toBe(200);
      // The api never writes to Postgres: a known key's events are still accepted into the queue...
      expect((await t.post(EVENTS, makeEvent())).status).toBe(202);
      // ...while a key never seen cannot be checked: 503, not a false 401.
      const unknown = await t.post(EVENTS, makeEvent({ tenant_id: t.other.id }), t.other.ingest);
      expect(unknown.status).toBe(503);
      expect(unknown.json.detail).toBe(
        'Credentials cannot be checked right now (database unavailable). Retry shortly.',
      );
    } finally {
      await pg.restore();
    }
    await waitFor('/health to recover', async () => (await t.get('/api/v1/analytics/health')).status === 200);
  });

  it('Redis unreachable: probes answer 503 naming redis and the queue; ingestion answers 503 with Retry-After; the retry is accepted once Redis is back', async () => {
    const event = makeEvent();
    await redis.cut();
    try {
      const health = await t.get('/api/v1/analytics/health');
      expect(health.status).toBe(503);
      expect(health.json.failing).toEqual(expect.arrayContaining(['redis', 'ingest_queue']));
      expect(health.json.failing).not.toContain('postgres');
      const ingestion = await t.get('/api/v1/analytics/events/health');
      expect(ingestion.status).toBe(503);
      expect((await t.get('/api/v1/analytics/health/ready')).json.failing).toEqual(['redis']);
      const res = await t.post(EVENTS, event);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.json.detail).toMatch(/nothing was stored\. Retry the same request\./);
    } finally {
      await redis.restore();
    }
    await waitFor(
      '/events/health to recover',
      async () => (await t.get('/api/v1/analytics/events/health')).status === 200,
    );
    const retry = await t.post(EVENTS, event);
    expect(retry.json.status).toBe('accepted');
  });

  it("an enqueue that fails after the dedupe claim gives the claim back, so the client's retry is not lost as a duplicate", async () => {
    // Make BullMQ's add script fail inside Redis: its queue meta key gets the wrong type.
    const meta = `${t.config.redis.prefix}:bull:ingest:meta`;
    const saved = await t.redis.hgetall(meta);
    await t.redis.del(meta);
    await t.redis.set(meta, 'not-a-hash');
    const event = makeEvent();
    try {
      const res = await t.post(EVENTS, event);
      expect(res.status).toBe(503);
      expect(
        await t.redis.exists(`${t.config.redis.prefix}:dedupe:${String(event.tenant_id)}:${String(event.event_id)}`),
      ).toBe(0);
    } finally {
      await t.redis.del(meta);
      if (Object.keys(saved).length) await t.redis.hset(meta, saved);
    }
    const retry = await t.post(EVENTS, event);
    expect(retry.status).toBe(202);
    expect(retry.json.status).toBe('accepted');
    await t.startWorker();
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = $1', [event.event_id])).toBe(1);
  });
});

describe('graceful degradation', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_MAX_QUEUE_BACKLOG: '3', ANALYTICS_BATCH_LINGER_MS: '0' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 503 with Retry-After while the backlog is over its limit, and accepts again once the worker drains it', async () => {
    const { BATCH } = await import('./support/events');
    let accepted = 0;
    for (let i = 0; i < 4; i++) {
      expect((await t.post(BATCH, { events: [makeEvent()] })).status).toBe(202);
      accepted++;
    }
    // the gate reads the backlog every 250 ms: requests before it closes are still accepted
    await waitFor(
      'the gate to see the backlog',
      async () => {
        const status = (await t.post(BATCH, { events: [makeEvent()] })).status;
        if (status === 202) accepted++;
        return status === 503;
      },
      5000,
      100,
    );
    const refused = await t.post(EVENTS, makeEvent());
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.json.detail).toMatch(/more than 3 jobs waiting, ANALYTICS_MAX_QUEUE_BACKLOG\); nothing was stored/);
    expect((await t.get('/api/v1/analytics/events/health')).status).toBe(503);

    await t.startWorker(); // the backlog drains, ingestion reopens by itself
    await drained(t.ingestQueue);
    await waitFor('ingestion to reopen', async () => (await t.post(EVENTS, makeEvent())).status === 202, 5000, 100);
    accepted++;
    await drained(t.ingestQueue);
    expect(await countRows(t.db)).toBe(accepted); // every event answered 202 is stored, none of the refused ones
  });
});
