import { createHmac } from 'node:crypto';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { expireCredentialCache } from './support/clock';
import { BATCH, EVENTS, makeEvent, waitFor } from './support/events';
import { LOOK_ALIKES, PLANTED } from './support/pii-corpus';
import { countRows, drained } from './support/queue';
import { TestEnv, createTestEnv, request } from './support/test-env';
import { runRole, startApiProcess } from './support/worker-process';

/** Every value stored under a Redis key prefix, whatever its type: queued and finished jobs included. */
async function redisDump(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      parts.push(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

const kbSearch = (attrs: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  makeEvent({
    event_name: 'kb.search',
    ...extra,
    attributes: { 'kb.search_id': 's-1', 'kb.query': 'pricing', 'kb.results_count': 3, 'kb.latency_ms': 40, ...attrs },
  });

/** Puts a planted value somewhere different each time: free text, nesting, arrays, keys, URLs, context, user id. */
function carrier(value: string, kind: string, i: number): Record<string, unknown> {
  if (kind === 'secret-key')
    return kbSearch({ [['password', 'api_key', 'access_token', 'auth.secret'][i % 4]]: value });
  switch (i % 8) {
    case 0:
      return kbSearch({ 'kb.query': `please find ${value} in the archive` });
    case 1:
      return kbSearch({ 'acme.profile': { contact: { primary: value } } });
    case 2:
      return kbSearch({ 'acme.notes': ['first', `second ${value}`, { third: value }] });
    case 3:
      return kbSearch({ [`tag ${value}`]: true });
    case 4:
      return kbSearch(
        {},
        {
          context: {
            page: {
              url: `https://shop.example.com/p/x?contact=${encodeURIComponent(value)}#${encodeURIComponent(value)}`,
              referrer: `https://partner.example.com/from/${encodeURIComponent(value)}?q=1`,
            },
          },
        },
      );
    case 5:
      return kbSearch({}, { context: { device: { user_agent: `Agent/1.0 (${value})` }, locale: 'en' } });
    case 6:
      return kbSearch({ 'acme.link': `https://docs.example.com/a?who=${encodeURIComponent(value)}` });
    default:
      return kbSearch({ 'error.context': `failed for ${value}` }, { user_id: kind === 'email' ? value : `u_${i}` });
  }
}

/** Every row of every table (each partition too), as text, by table. */
async function postgresDump(db: Pool): Promise<Map<string, string>> {
  const tables = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
  );
  const out = new Map<string, string>();
  for (const { name } of tables.rows) {
    const r = await db.query(`SELECT coalesce(string_agg(row_to_json(x)::text, E'\\n'), '') AS j FROM "${name}" x`);
    out.set(name, r.rows[0].j);
  }
  return out;
}

describe('no personal data reaches Postgres, Redis or a log line', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { api: false, worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it(`sends ${PLANTED.length} planted values through the running service, a tenant in quarantine mode among the senders, and finds none of them in any table, Redis key or value, or log line`, async () => {
    expect(PLANTED.length).toBeGreaterThanOrEqual(200);
    // tenant B keeps what fails its schema in the quarantine; a job fails at its first attempt
    await t.db.query(`UPDATE analytics_tenants SET validation_mode = 'quarantine' WHERE id = $1`, [t.other.id]);
    const env = { ...t.env, ANALYTICS_DEBUG_MODE: 'true', ANALYTICS_JOB_ATTEMPTS: '1' };
    const worker = runRole('worker.js', env);
    let api: Awaited<ReturnType<typeof startApiProcess>> | undefined;
    try {
      api = await startApiProcess(env);
      const { base } = api;
      const send = (path: string, body: unknown, key = t.tenant.ingest) =>
        request(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify(body),
        });
      const inBatches = async (events: Record<string, unknown>[], key: string, status: string) => {
        for (let i = 0; i < events.length; i += 50) {
          const res = await send(BATCH, { events: events.slice(i, i + 50) }, key);
          expect(res.json.results.filter((r: { status: string }) => r.status === status)).toHaveLength(
            Math.min(50, events.length - i),
          );
        }
      };

      // tenant A stores every planted value's carrier; tenant B keeps the same carriers, made to
      // fail their schema, in the quarantine, and stores ten that pass
      const events = PLANTED.map((p, i) => carrier(p.value, p.kind, i));
      await inBatches(events, t.tenant.ingest, 'accepted');
      const quarantined = PLANTED.map((p, i) => {
        const e = carrier(p.value, p.kind, i);
        return { ...e, tenant_id: t.other.id, attributes: { ...(e.attributes as object), 'kb.results_count': 'many' } };
      });
      await inBatches(quarantined, t.other.ingest, 'quarantined');
      const passing = PLANTED.slice(0, 10).map((p, i) => ({ ...carrier(p.value, p.kind, i), tenant_id: t.other.id }));
      await inBatches(passing, t.other.ingest, 'accepted');
      // rejected events carrying personal data must not leak through their errors or the debug log
      for (const p of PLANTED.slice(0, 20)) {
        expect((await send(EVENTS, kbSearch({ 'kb.results_count': p.value }))).status).toBe(400);
        expect(
          (await send(EVENTS, makeEvent({ event_name: 'acme.unknown', attributes: { note: p.value } }))).status,
        ).toBe(400);
      }
      // consent withdrawn by users whose ids are e-mail addresses, and their sessions
      const emails = PLANTED.filter((p) => p.kind === 'email').slice(0, 5);
      for (const p of emails) {
        const res = await send(EVENTS, kbSearch({}, { user_id: p.value, context: { consent: { analytics: false } } }));
        expect(res.json.status).toBe('dropped');
      }
      const clean = LOOK_ALIKES.map((v, i) =>
        kbSearch({ 'kb.query': `lookup ${v}`, 'acme.value': v, 'acme.index': i }),
      );
      expect((await send(BATCH, { events: clean })).json.accepted).toBe(LOOK_ALIKES.length);
      const storedCount = events.length + passing.length + clean.length;
      await waitFor('every event to be stored', async () => (await countRows(t.db)) === storedCount, 30000);
      await waitFor(
        'every quarantined event to be kept',
        async () =>
          (await t.db.query('SELECT count(*)::int AS n FROM analytics_quarantine')).rows[0].n === quarantined.length,
        30000,
      );

      // a job that fails stays in the failed set with its payload: the ledger is away while it runs
      await t.db.query('ALTER TABLE analytics_dedupe_ledger RENAME TO analytics_dedupe_ledger_away');
      try {
        await inBatches(
          PLANTED.slice(0, 50).map((p, i) => carrier(p.value, p.kind, i)),
          t.tenant.ingest,
          'accepted',
        );
        await waitFor('the job to fail', async () => (await t.ingestQueue.getJobCounts('failed')).failed === 1, 30000);
      } finally {
        await t.db.query('ALTER TABLE analytics_dedupe_ledger_away RENAME TO analytics_dedupe_ledger');
      }

      // an erasure of a user whose id is an e-mail address (a carrier holds it as its user id)
      const erased = PLANTED.find((p, i) => p.kind === 'email' && i % 8 === 7)!;
      const erasure = await request(`${base}/api/v1/analytics/subjects/erasure`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.admin}` },
        body: JSON.stringify({ user_id: erased.value }),
      });
      expect(erasure.status).toBe(202);
      // The last lines each role writes: the api's decision on one more rejected event, the worker's
      // erasure. Once both are read, both processes stop and their output is read to its end.
      const last = kbSearch({ 'kb.results_count': 'not a count' });
      expect((await send(EVENTS, last)).status).toBe(400);
      await waitFor(
        'the api to log its last decision',
        () => api!.stdout.includes(`event ${String(last.event_id)} rejected`),
        30000,
      );
      await waitFor(
        'the worker to log the erasure',
        () => worker.stdout.includes(`Erasure ${String(erasure.json.request_id)} completed: 1 rows`),
        30000,
      );
      api.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      await Promise.all([api.closed, worker.closed]);

      const tables = await postgresDump(t.db);
      // every store that holds something of these events is among the tables scanned, and holds it
      const rowsOf = async (table: string) =>
        (await t.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
      expect(await countRows(t.db)).toBe(storedCount - 1);
      expect(await rowsOf('analytics_quarantine')).toBe(quarantined.length);
      expect(await rowsOf('analytics_erasures')).toBe(1);
      expect(await rowsOf('analytics_erasure_audit')).toBe(1);
      expect(await rowsOf('analytics_rollup_members')).toBeGreaterThan(0);
      expect(await rowsOf('analytics_rollups')).toBeGreaterThan(0);
      // Stored events wait a fold round before they leave the pending table.
      await waitFor('the rollup fold', async () => (await rowsOf('analytics_rollup_pending')) === 0, 30000);
      expect([...tables.keys()]).toEqual(
        expect.arrayContaining([
          'analytics_dedupe_ledger',
          'analytics_erasure_audit',
          'analytics_erasures',
          'analytics_quarantine',
          'analytics_rollup_members',
          'analytics_rollup_pending',
          'analytics_rollups',
          'analytics_schemas',
          'analytics_tenants',
        ]),
      );
      expect([...tables.keys()].some((n) => n.startsWith('analytics_events_raw_p'))).toBe(true);
      const redisText = await redisDump(t.redis, t.config.redis.prefix);
      const failed = await t.ingestQueue.getFailed();
      expect(failed).toHaveLength(1);
      expect(failed[0].data.events).toHaveLength(50);
      expect(redisText).toContain(failed[0].id!); // the failed job and its payload were scanned
      expect((await t.ingestQueue.getCompleted()).length).toBeGreaterThan(0); // and completed ones
      expect(await t.redis.keys(`${t.config.redis.prefix}:consent:*`)).toHaveLength(2 * emails.length);

      const logs = api.stdout + api.stderr + worker.stdout + worker.stderr;
      expect(logs).toMatch(/ingest: 50 received, 50 accepted/); // debug logging was on
      const leaks: string[] = [];
      for (const p of PLANTED) {
        const needles = [p.value, encodeURIComponent(p.value)];
        const digits = p.value.replace(/\D/g, '');
        if (['card', 'phone', 'ssn', 'iban'].includes(p.kind) && digits.length >= 9) needles.push(digits);
        for (const [where, text] of [
          ...[...tables].map(([table, text]) => [`postgres ${table}`, text] as const),
          ['redis', redisText],
          ['api logs', api.stdout + api.stderr],
          ['worker logs', worker.stdout + worker.stderr],
        ] as const) {
          if (needles.some((n) => text.includes(n))) leaks.push(`${p.kind} ${p.value} found in ${where}`);
        }
      }
      expect(leaks).toEqual([]);

      // the look-alikes came through unchanged
      const stored = (
        await t.db.query(
          `SELECT attributes FROM analytics_events_raw WHERE attributes ? 'acme.index' ORDER BY (attributes->>'acme.index')::int`,
        )
      ).rows;
      expect(stored.map((r) => r.attributes['acme.value'])).toEqual(LOOK_ALIKES);
      expect(stored.map((r) => r.attributes['kb.query'])).toEqual(LOOK_ALIKES.map((v) => `lookup ${v}`));
    } finally {
      api?.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      await Promise.all([api?.exited, worker.exited]);
    }
  });
});

describe('consent and pseudonymous users', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t.close();
  });

  const S1 = '11111111-1111-4111-8111-111111111111';
  const S2 = '22222222-2222-4222-8222-222222222222';
  const S3 = '33333333-3333-4333-8333-333333333333';
  const ev = (session: string, consent?: boolean, user = 'u_a') =>
    makeEvent({
      session_id: session,
      user_id: user,
      context: consent === undefined ? { locale: 'en' } : { consent: { analytics: consent, ads: false } },
    });
  const status = async (e: Record<string, unknown>) => (await t.post(EVENTS, e)).json.status;

  it('follows the consent matrix: explicit false, withdrawn then absent, given again', async () => {
    const dropped = ev(S1, false, 'u_a');
    expect(await status(dropped)).toBe('dropped');
    // the withdrawal is recorded for the session and the user, neither in clear
    const keys = await t.redis.keys(`${t.config.redis.prefix}:consent:*`);
    expect(keys).toHaveLength(2);
    expect(keys.join(' ')).not.toMatch(/u_a|11111111/);
    expect(await status(ev(S1))).toBe('dropped'); // same session, no consent block
    expect(await status(ev(S2, undefined, 'u_a'))).toBe('dropped'); // same user, another session
    expect(await status(ev(S2, undefined, 'u_b'))).toBe('accepted'); // someone else
    expect(await status(ev(S1, true, 'u_a'))).toBe('accepted'); // consent given again
    expect(await status(ev(S1))).toBe('accepted');
    expect(await status(ev(S3, undefined, 'u_a'))).toBe('accepted');
    // inside one batch, in order
    const batch = await t.post(BATCH, {
      events: [ev(S3, false, 'u_c'), ev(S3, undefined, 'u_c'), ev(S3, true, 'u_c'), ev(S3, undefined, 'u_c')],
    });
    expect(batch.json.results.map((r: { status: string }) => r.status)).toEqual([
      'dropped',
      'dropped',
      'accepted',
      'accepted',
    ]);
    expect(batch.json.dropped).toBe(2);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = $1', [dropped.event_id])).toBe(0);
    expect(await countRows(t.db)).toBe(6);
    // a dropped event leaves no dedupe claim behind: sent again with consent, it is stored
    const consenting = { consent: { analytics: true, ads: false } };
    expect(await status({ ...dropped, context: consenting })).toBe('accepted');
    // the same event twice in one batch, refused then consented: the second occurrence is stored
    const twice = ev(S3, false, 'u_d');
    const pair = await t.post(BATCH, { events: [twice, { ...twice, context: consenting }] });
    expect(pair.json.results.map((r: { status: string }) => r.status)).toEqual(['dropped', 'accepted']);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [[dropped.event_id, twice.event_id]])).toBe(2);
    expect(await countRows(t.db)).toBe(8);
    // every subject has consented again: no withdrawal is left
    expect(await t.redis.keys(`${t.config.redis.prefix}:consent:*`)).toEqual([]);
  });

  it('replaces user_id with HMAC-SHA256 under the tenant secret when the tenant asks', async () => {
    await t.db.query('UPDATE analytics_tenants SET pseudonymize_user_id = true WHERE id = $1', [t.other.id]);
    expireCredentialCache(t.api!, t.config.auth.keyCacheMs); // the tenant row is cached
    const e = makeEvent({ tenant_id: t.other.id, user_id: 'customer-42' });
    expect((await t.post(EVENTS, e, t.other.ingest)).json.status).toBe('accepted');
    await drained(t.ingestQueue);
    const secret = (await t.db.query('SELECT pseudonym_secret FROM analytics_tenants WHERE id = $1', [t.other.id]))
      .rows[0].pseudonym_secret;
    const stored = (await t.db.query('SELECT user_id FROM analytics_events_raw WHERE event_id = $1', [e.event_id]))
      .rows[0].user_id;
    expect(stored).toBe(createHmac('sha256', secret).update('customer-42').digest('hex'));
  });
});
