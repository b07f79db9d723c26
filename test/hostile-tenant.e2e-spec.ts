import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Job, Queue } from 'bullmq';
import { SignJWT } from 'jose';
import { PoolClient } from 'pg';
import { generateApiKey } from '../src/modules/auth/api-key';
import { CLOCK, Clock } from '../src/common/clock';
import { TenantsRepository } from '../src/modules/auth/tenants.repository';
import { QueueName } from '../src/modules/contracts/jobs';
import { StoredEvent } from '../src/modules/contracts/stored-event';
import { holdSingleEventFlushes } from './support/batcher';
import { PinnedClock, pinClock } from './support/clock';
import { BATCH, EVENTS, OTHER_TENANT, TENANT, makeEvent, waitFor } from './support/events';
import { drained } from './support/queue';
import { HttpAnswer, TestEnv, createTestEnv } from './support/test-env';

/**
 * Tenant A attacks a real api and worker, one attack at a time, while tenant B sends valid single
 * events alongside. Each attack is refused or bounded as documented, and every event B sent during
 * it is answered 202 accepted and stored exactly once. B's latency is printed per attack, against a
 * window of B alone right before it: a figure to read, never an assertion.
 */

const SECRET = 'a-dashboard-sso-secret-of-at-least-32-chars';
const ISS = 'https://sso.example.com';
const AUD = 'analytics-dashboards';
const SCHEMAS = '/api/v1/analytics/schemas';
const REPORTS = '/api/v1/analytics/reports';
const ERASURE = '/api/v1/analytics/subjects/erasure';
const LIVE = '/api/v1/analytics/health/live';
const DAY = 86_400_000;

const CONSENT_MAX = 5;
const SCHEMA_MAX = 5;
const ERASURE_MAX = 2;
const AUTH_FAILURES = 5;
const REQUEST_TIMEOUT_MS = 500;

/** B's requests in each window, the baseline and the one under attack. */
const B_REQUESTS = 60;
/** Most rounds an attack repeats while B is still sending. */
const MAX_ROUNDS = 200;

const POLY = '^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*!$';
const POLY_WORD = '^\\w*\\w*\\w*\\w*\\w*!$';
const LONG = 'a'.repeat(8000);
const LONG_KEY = 'a'.repeat(256); // the longest property name the payload guard lets through

// The big session of the funnel attack: SESSION_EVENTS - 1 views 100 ms apart, then a checkout.
const SESSION_EVENTS = 40_000;
const S1 = '00000000-0000-4000-8000-000000000001';
const S2 = '00000000-0000-4000-8000-000000000002';
const S3 = '00000000-0000-4000-8000-000000000003';

const UUID_MESSAGE = (pointer: string) =>
  `${pointer} must be a UUID in canonical form, 8-4-4-4-12 hexadecimal digits joined by hyphens (e.g. 123e4567-e89b-12d3-a456-426614174000), without a urn:uuid: prefix or braces`;
const invalidReport = (detail: string) => ({
  type: 'https://analytics.dev/problems/invalid-report',
  title: 'Invalid report request',
  status: 400,
  detail,
});
const unauthorized = (detail: string) => ({
  type: 'https://analytics.dev/problems/unauthorized',
  title: 'Unauthorized',
  status: 401,
  detail,
});

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];

interface BAnswer {
  id: string;
  ms: number;
  status: number;
  verdict: unknown;
}

/** What an attack sees of B's sender while it runs. */
interface BProgress {
  /** True once B has had all its answers. */
  done(): boolean;
  /** Answers B has had so far. */
  answered(): number;
}

describe('a hostile tenant next to a well-behaved one', () => {
  let t: TestEnv;
  const dayA = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;
  const iso = (ms: number) => new Date(ms).toISOString();
  const allB: string[] = [];

  beforeAll(async () => {
    t = await createTestEnv({
      ANALYTICS_CONSENT_MAX_SUBJECTS: String(CONSENT_MAX),
      ANALYTICS_SCHEMA_MAX_COUNT: String(SCHEMA_MAX),
      ANALYTICS_ERASURE_MAX_PENDING: String(ERASURE_MAX),
      ANALYTICS_AUTH_FAILURES_PER_MIN: String(AUTH_FAILURES),
      ANALYTICS_HTTP_HEADERS_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      ANALYTICS_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      ANALYTICS_JWT_SECRET: SECRET,
      ANALYTICS_JWT_ISSUER: ISS,
      ANALYTICS_JWT_AUDIENCE: AUD,
    });
    // Tenant A's big session for the funnel attack, three days ago, in one statement.
    await t.db.query('SELECT analytics_ensure_raw_partition($1::date)', [iso(dayA)]);
    const insert = (select: string, params: unknown[]) =>
      t.db.query(
        `INSERT INTO analytics_events_raw (tenant_id, event_id, event_name, occurred_at, session_id, user_id, source)
         SELECT $1, gen_random_uuid(), e.name, e.at, e.session, 'u_1', 'web' FROM (${select}) AS e(name, at, session)`,
        [TENANT, ...params],
      );
    await insert(
      `SELECT CASE WHEN i < ${SESSION_EVENTS - 1} THEN 'commerce.view' ELSE 'commerce.checkout' END,
              $2::timestamptz + i * interval '100 milliseconds', $3::uuid
       FROM generate_series(0, ${SESSION_EVENTS - 1}) AS i`,
      [iso(dayA), S1],
    );
    await insert(
      `VALUES ('commerce.view', $2::timestamptz, $3::uuid), ('commerce.checkout', $2::timestamptz + interval '5 seconds', $3::uuid),
              ('commerce.view', $2::timestamptz, $4::uuid)`,
      [iso(dayA + 60_000), S2, S3],
    );
  });

  afterAll(async () => {
    await t?.close();
  });

  const rowsPerEvent = async (ids: string[]) => {
    const { rows } = await t.db.query<{ event_id: string; n: number }>(
      'SELECT event_id::text, count(*)::int AS n FROM analytics_events_raw WHERE event_id = ANY($1::uuid[]) GROUP BY 1',
      [ids],
    );
    return Object.fromEntries(rows.map((r) => [r.event_id, r.n]));
  };
  const once = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, 1]));
  const expectProblem = (res: HttpAnswer, body: Record<string, unknown>) => {
    expect({ status: res.status, body: res.json }).toEqual({ status: body.status, body });
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  };

  /** B's sender: `count` valid single events, `lanes` at a time, each lane awaiting its answer. */
  const bSend = (count: number, lanes = 2) => {
    const answers: BAnswer[] = [];
    let started = 0;
    const lane = async () => {
      while (started < count) {
        started++;
        const event = makeEvent({ tenant_id: OTHER_TENANT });
        const at = process.hrtime.bigint();
        const res = await t.post(EVENTS, event, t.other.ingest);
        answers.push({
          id: event.event_id as string,
          ms: Number(process.hrtime.bigint() - at) / 1e6,
          status: res.status,
          verdict: res.json?.status,
        });
      }
    };
    const done = Promise.all(Array.from({ length: lanes }, lane)).then(() => answers);
    return { answers, done };
  };

  /**
   * B alone for B_REQUESTS requests, then B again for as many while `attack` runs; then every B
   * event of both windows must be accepted and stored once, and B's p50/p95 are printed (the ratio is
   * p95 with the attack over p95 without).
   */
  const underAttack = async (name: string, attack: (b: BProgress) => Promise<unknown>) => {
    const quiet = await bSend(B_REQUESTS).done;
    const loud = bSend(B_REQUESTS);
    let finished = false;
    const progress: BProgress = { done: () => finished, answered: () => loud.answers.length };
    const [b, a] = await Promise.allSettled([loud.done.finally(() => (finished = true)), attack(progress)]);
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;

    const all = [...quiet, ...b.value];
    expect(all.filter((x) => x.status !== 202 || x.verdict !== 'accepted')).toEqual([]);
    await drained(t.ingestQueue);
    const ids = all.map((x) => x.id);
    expect(await rowsPerEvent(ids)).toEqual(once(ids));
    expect(await t.ingestQueue.getJobCounts('failed')).toEqual({ failed: 0 });
    allB.push(...ids);

    const ms = (xs: BAnswer[]) => xs.map((x) => x.ms);
    const [w50, w95, q50, q95] = [
      quantile(ms(b.value), 0.5),
      quantile(ms(b.value), 0.95),
      quantile(ms(quiet), 0.5),
      quantile(ms(quiet), 0.95),
    ];
    console.log(
      `attack ${name}: B p50 ${w50.toFixed(1)} / p95 ${w95.toFixed(1)} with the attack, ${q50.toFixed(1)} / ${q95.toFixed(1)} without (ratio ${(w95 / q95).toFixed(2)})`,
    );
    return { quiet, loud: b.value };
  };

  /** Runs `round` once, then again while B is still sending, at most MAX_ROUNDS times. */
  const whileB = async (b: BProgress, round: (i: number) => Promise<void>) => {
    let i = 0;
    do await round(i++);
    while (!b.done() && i < MAX_ROUNDS);
    return i;
  };

  it('1. urn:uuid: and braced ids are refused 400 with the field; B shares jobs with A and is stored once', async () => {
    const variants: [string, () => Record<string, unknown>][] = [
      ['/event_id', () => ({ event_id: `urn:uuid:${randomUUID()}` })],
      ['/event_id', () => ({ event_id: `{${randomUUID()}}` })],
      ['/session_id', () => ({ session_id: `urn:uuid:${randomUUID()}` })],
      ['/session_id', () => ({ session_id: `{${randomUUID()}}` })],
      ['/site_id', () => ({ site_id: `urn:uuid:${randomUUID()}` })],
      ['/site_id', () => ({ site_id: `{${randomUUID()}}` })],
    ];
    const refused: { pointer: string; res: HttpAnswer }[] = [];
    const valid: { id: string; res: HttpAnswer }[] = [];
    await underAttack('non-canonical ids', (b) =>
      whileB(b, async () => {
        const good = Array.from({ length: 4 }, () => makeEvent());
        await Promise.all([
          ...variants.map(async ([pointer, over]) =>
            refused.push({ pointer, res: await t.post(EVENTS, makeEvent(over())) }),
          ),
          ...good.map(async (e) => valid.push({ id: e.event_id as string, res: await t.post(EVENTS, e) })),
        ]);
      }),
    );

    expect(refused.length).toBeGreaterThanOrEqual(variants.length);
    for (const { pointer, res } of refused) {
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.json).toMatchObject({ status: 400, title: 'Invalid event', detail: UUID_MESSAGE(pointer) });
      expect(res.json.errors).toEqual([
        { pointer, keyword: 'format', message: UUID_MESSAGE(pointer), schema: 'envelope' },
      ]);
      expect([res.status, res.json.result.status]).toEqual([400, 'rejected']);
    }
    expect(valid.map((v) => [v.res.status, v.res.json.status])).toEqual(valid.map(() => [202, 'accepted']));
    const aIds = valid.map((v) => v.id);
    expect(await rowsPerEvent(aIds)).toEqual(once(aIds));
    expect(
      (
        await t.db.query(
          'SELECT count(*)::int AS n FROM analytics_events_raw WHERE tenant_id = $1 AND occurred_at > $2',
          [TENANT, iso(Date.now() - DAY)],
        )
      ).rows[0].n,
    ).toBe(aIds.length);
    // A's and B's single events travel in the same jobs: one held flush carries both, and stores both.
    const held = holdSingleEventFlushes(t);
    const [mineA, mineB] = [makeEvent(), makeEvent({ tenant_id: OTHER_TENANT })];
    allB.push(String(mineB.event_id));
    const together = Promise.all([t.post(EVENTS, mineA), t.post(EVENTS, mineB, t.other.ingest)]);
    await waitFor('both events to reach the batcher', () => held.added() === 2);
    held.release();
    expect((await together).map((r) => r.json.status)).toEqual(['accepted', 'accepted']);
    await drained(t.ingestQueue);
    const jobs = (await t.ingestQueue.getJobs(['completed'])) as Job<{ events: StoredEvent[] }>[];
    const shared = jobs.filter((j) => {
      const ids = (j.data.events ?? []).map((e) => e.event_id);
      return ids.includes(String(mineA.event_id)) && ids.includes(String(mineB.event_id));
    });
    expect(shared).toHaveLength(1);
    expect(await rowsPerEvent([String(mineA.event_id), String(mineB.event_id)])).toEqual(
      once([String(mineA.event_id), String(mineB.event_id)]),
    );
  });

  it('2. backtracking tenant patterns on 8,000-character strings are answered with the pattern error; /health/live answers meanwhile', async () => {
    const publish = (event_name: string, schema: Record<string, unknown>) =>
      t.post(SCHEMAS, { event_name, version: '1-0-0', schema }, t.tenant.admin);
    const forA = (event_name: string, attributes: Record<string, unknown>) => makeEvent({ event_name, attributes });
    const hostile = [
      {
        event: () => forA('acme.pattern_probe', { 'probe.text': LONG }),
        errors: [
          {
            pointer: '/attributes/probe.text',
            keyword: 'pattern',
            message: `/attributes/probe.text must match ${POLY}`,
            schema: 'acme.pattern_probe/1-0-0',
          },
        ],
      },
      {
        event: () => forA('acme.keyed_probe', { [LONG_KEY]: 1 }),
        errors: [
          {
            pointer: `/attributes/${LONG_KEY}`,
            keyword: 'additionalProperties',
            message: `/attributes/${LONG_KEY} is not a known field`,
            schema: 'acme.keyed_probe/1-0-0',
          },
        ],
      },
      {
        event: () => forA('acme.named_probe', { [LONG_KEY]: 1 }),
        errors: [
          {
            pointer: '/attributes',
            keyword: 'pattern',
            message: `/attributes must match ${POLY}`,
            schema: 'acme.named_probe/1-0-0',
          },
          {
            pointer: '/attributes',
            keyword: 'propertyNames',
            message: '/attributes property name must be valid',
            schema: 'acme.named_probe/1-0-0',
          },
        ],
      },
    ];
    const published: HttpAnswer[] = [];
    const answers: { expected: unknown; id: string; res: HttpAnswer }[] = [];
    const live: number[] = [];
    const probes: [string, Record<string, unknown>][] = [
      ['acme.pattern_probe', { type: 'object', properties: { 'probe.text': { type: 'string', pattern: POLY } } }],
      [
        'acme.keyed_probe',
        { type: 'object', patternProperties: { [POLY_WORD]: { type: 'number' } }, additionalProperties: false },
      ],
      ['acme.named_probe', { type: 'object', propertyNames: { pattern: POLY } }],
    ];
    // The registry refuses such patterns (the ReDoS analysis, test/schema-patterns.e2e-spec.ts); the
    // runtime defence is for schemas stored as an older registry would hold them: stored directly.
    for (const [name, schema] of probes) published.push(await publish(name, schema));
    for (const [name, schema] of probes)
      await t.db.query(
        `INSERT INTO analytics_schemas (tenant_id, name, kind, model, revision, addition, schema) VALUES ($1, $2, 'event', 1, 0, 0, $3)`,
        [t.tenant.id, name, JSON.stringify(schema)],
      );
    // announced as a publish announces them, and seen by the api before the attack
    const channel = `${t.config.redis.prefix}:schemas:changed`;
    for (const [name] of probes) await t.redis.publish(channel, JSON.stringify({ tenant: t.tenant.id, name }));
    await waitFor('the api to see the stored schemas', async () => {
      const probe = await t.post(EVENTS, forA('acme.pattern_probe', { 'probe.text': 'x' }));
      return probe.status === 400 && probe.json.errors?.[0]?.keyword === 'pattern';
    });
    await underAttack('backtracking patterns', async (b) => {
      await whileB(b, () =>
        Promise.all(
          hostile.map(async (h) => {
            const event = h.event();
            const answer = t.post(EVENTS, event);
            live.push((await t.get(LIVE)).status); // sent while A's event is in flight
            answers.push({ expected: h.errors, id: event.event_id as string, res: await answer });
          }),
        ).then(() => undefined),
      );
    });

    expect(published.map((r) => [r.status, r.json.reasons.length])).toEqual([
      [400, 1],
      [400, 1],
      [400, 1],
    ]);
    expect(answers.length).toBeGreaterThanOrEqual(hostile.length);
    for (const a of answers) {
      expect(a.res.status).toBe(400);
      expect(a.res.json).toMatchObject({ status: 400, title: 'Invalid event', errors: a.expected });
      expect(a.res.json.result).toEqual({ index: 0, event_id: a.id, status: 'rejected', errors: a.expected });
    }
    expect(live).toEqual(answers.map(() => 200));
    expect(await rowsPerEvent(answers.map((a) => a.id))).toEqual({});
    // The patterns are live: strings that match are accepted.
    const matching = forA('acme.pattern_probe', { 'probe.text': `${LONG}!` });
    expect((await t.post(EVENTS, matching)).json).toEqual({
      index: 0,
      event_id: matching.event_id,
      status: 'accepted',
    });
  });

  it('3. a summary from year 0001 to 9999 and dates of year -271821 are 400s naming the limit', async () => {
    const from = '0001-01-01T00:30:00Z';
    const to = '9999-01-01T00:00:00Z';
    const days = Math.ceil((Date.parse(to) - Date.parse(from)) / DAY);
    const bad = '-271821-04-20T00:00:00Z';
    const dateDetail = `from must be an RFC 3339 date-time with a zone, years 0001 to 9999, e.g. 2025-01-15T00:00:00Z; got ${JSON.stringify(bad)}.`;
    const badDate = {
      ...invalidReport(dateDetail),
      errors: [{ pointer: '/from', keyword: 'format', message: dateDetail.slice(0, -1) }],
    };
    const report = (path: string, body: Record<string, unknown>) =>
      t.post(`${REPORTS}/${path}`, { tenantId: TENANT, ...body }, t.tenant.report);
    const seen: [HttpAnswer, Record<string, unknown>][] = [];
    await underAttack('unbounded report ranges', (b) =>
      whileB(b, async () => {
        seen.push([
          await report('summary', { metrics: ['commerce.conversion_rate'], from, to }),
          invalidReport(
            `A summary covers at most 400 days (ANALYTICS_REPORT_MAX_RANGE_DAYS); this one covers ${days} days. Choose a shorter range.`,
          ),
        ]);
        seen.push([
          await report('timeseries', {
            metric: 'commerce.conversion_rate',
            grain: '1d',
            from: bad,
            to: '2025-01-01T00:00:00Z',
          }),
          badDate,
        ]);
        seen.push([
          await report('funnel', {
            steps: ['commerce.view', 'commerce.checkout'],
            from: bad,
            to: '2025-01-01T00:00:00Z',
          }),
          badDate,
        ]);
      }),
    );
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (const [res, body] of seen) expectProblem(res, body);
  });

  it(`4. a funnel over a ${SESSION_EVENTS}-event session answers exactly; reports beyond the tenant's limit are 429 with Retry-After`, async () => {
    const range = { from: iso(dayA), to: iso(dayA + 2 * 3_600_000), window_seconds: 30 * 86400 };
    const funnel = (body: Record<string, unknown> = {}) =>
      t.post(
        `${REPORTS}/funnel`,
        { tenantId: TENANT, steps: ['commerce.view', 'commerce.checkout'], ...range, ...body },
        t.tenant.report,
      );
    const lastView = (SESSION_EVENTS - 1) * 100; // S1's checkout, ms after its first view
    const expectOrdered = (res: HttpAnswer) => {
      expect(res.status).toBe(200);
      expect(res.json.steps.map((s: { units: number }) => s.units)).toEqual([3, 2]);
      expect(res.json.steps[1]).toMatchObject({
        conversion_from_first: 2 / 3,
        median_ms_from_previous: (lastView + 5000) / 2,
      });
      expect(res.json.meta).toMatchObject({ units: 3, unit: 'session_id', order: 'ordered' });
    };
    const expectStrict = (res: HttpAnswer) => {
      expect(res.status).toBe(200);
      expect(res.json.steps.map((s: { units: number }) => s.units)).toEqual([3, 2]);
      expect(res.json.steps[1].median_ms_from_previous).toBe((100 + 5000) / 2);
    };
    const waitingOnLock = async () =>
      (
        await t.db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%ORDER BY unit, occurred_at%'`,
        )
      ).rows[0].n as number;
    const partition = `analytics_events_raw_p${iso(dayA).slice(0, 10).replace(/-/g, '')}`;

    let held: HttpAnswer[] = [];
    const busy: HttpAnswer[] = [];
    const answered: HttpAnswer[][] = [];
    await underAttack('big-session funnels', async (b) => {
      // Two funnels held in flight by a lock on day A's partition only (B writes today's), more refused.
      const holder: PoolClient = await t.db.connect();
      let inFlight: Promise<HttpAnswer>[] = [];
      try {
        await holder.query('BEGIN');
        await holder.query(`LOCK TABLE ${partition} IN ACCESS EXCLUSIVE MODE`);
        inFlight = [funnel(), funnel({ order: 'strict' })];
        await waitFor('two funnels waiting on the lock', async () => (await waitingOnLock()) === 2);
        busy.push(...(await Promise.all(Array.from({ length: 4 }, () => funnel()))));
        // B keeps sending while the tenant's report slots are full.
        await waitFor('B half done', () => b.answered() >= B_REQUESTS / 2 || b.done(), 15_000, 5);
      } finally {
        await holder.query('COMMIT');
        holder.release();
      }
      held = await Promise.all(inFlight);
      // Then the big funnels, as many at once as the tenant may run, while B is still sending.
      await whileB(b, async () => {
        answered.push(await Promise.all([funnel(), funnel({ order: 'strict' })]));
      });
    });

    for (const res of busy) {
      expectProblem(res, {
        type: 'https://analytics.dev/problems/reports-busy',
        title: 'Too many reports running',
        status: 429,
        detail:
          'This tenant already has 2 reports running, the limit per tenant (ANALYTICS_REPORT_TENANT_CONCURRENCY is 2). Retry when one has answered.',
      });
      expect(res.headers.get('retry-after')).toBe('1');
    }
    expect(busy).toHaveLength(4);
    expectOrdered(held[0]);
    expectStrict(held[1]);
    expect(answered.length).toBeGreaterThanOrEqual(1);
    for (const [ordered, strict] of answered) {
      expectOrdered(ordered);
      expectStrict(strict);
    }
  });

  it(`5. consent withdrawals for fresh subjects beyond ANALYTICS_CONSENT_MAX_SUBJECTS (${CONSENT_MAX}) are 429; A keeps ${CONSENT_MAX} in Redis`, async () => {
    const withdrawal = () => {
      const e = makeEvent({ session_id: randomUUID() });
      delete e.user_id;
      (e.context as Record<string, unknown>).consent = { analytics: false };
      return e;
    };
    const quotaProblem = (what: string) => ({
      type: 'https://analytics.dev/problems/consent-quota',
      title: 'Consent quota reached',
      status: 429,
      detail: `This tenant already keeps ${CONSENT_MAX} consent withdrawals (ANALYTICS_CONSENT_MAX_SUBJECTS), and ${what} consent for a subject without one: nothing of this request was stored. Withdrawals expire after the tenant's retention (90 days) and end when consent is given again; ask the operator to raise the quota.`,
      quota: 'consent_subjects',
      limit: CONSENT_MAX,
    });
    let first: HttpAnswer | undefined;
    const batches: HttpAnswer[] = [];
    const singles: HttpAnswer[] = [];
    const flooded: string[] = [];
    await underAttack('consent flood', (b) =>
      whileB(b, async (i) => {
        if (i === 0) {
          first = await t.post(BATCH, { events: Array.from({ length: CONSENT_MAX }, withdrawal) });
          return;
        }
        const batch = Array.from({ length: 50 }, withdrawal);
        const single = withdrawal();
        flooded.push(...[...batch, single].map((e) => e.event_id as string));
        const [r1, r2] = await Promise.all([t.post(BATCH, { events: batch }), t.post(EVENTS, single)]);
        batches.push(r1);
        singles.push(r2);
      }),
    );
    expect(first!.status).toBe(202);
    expect(first!.json.results.map((r: { status: string }) => r.status)).toEqual(
      Array.from({ length: CONSENT_MAX }, () => 'dropped'),
    );
    expect(batches.length).toBeGreaterThanOrEqual(1);
    for (const res of batches) expectProblem(res, quotaProblem('this request holds an event withdrawing'));
    for (const res of singles) expectProblem(res, quotaProblem('this event withdraws'));
    const prefix = t.config.redis.prefix;
    expect(await t.redis.zcard(`${prefix}:consent-subjects:${TENANT}`)).toBe(CONSENT_MAX);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await t.redis.scan(cursor, 'MATCH', `${prefix}:consent:${TENANT}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    expect(keys).toHaveLength(CONSENT_MAX);
    // Nothing of the refused requests was claimed.
    const claimed = await Promise.all(flooded.map((id) => t.redis.exists(`${prefix}:dedupe:${TENANT}:${id}`)));
    expect(claimed.filter((n) => n > 0)).toEqual([]);
  });

  it(`6. schemas beyond ANALYTICS_SCHEMA_MAX_COUNT (${SCHEMA_MAX}) are 422, erasures beyond ANALYTICS_ERASURE_MAX_PENDING (${ERASURE_MAX}) 429`, async () => {
    const publish = (name: string) =>
      t.post(
        SCHEMAS,
        { event_name: name, version: '1-0-0', schema: { type: 'object', properties: { a: { type: 'string' } } } },
        t.tenant.admin,
      );
    const erase = () => t.post(ERASURE, { session_id: randomUUID() }, t.tenant.admin);
    const pending = async () =>
      (
        await t.db.query(
          `SELECT count(*)::int AS n FROM analytics_erasures WHERE tenant_id = $1 AND status = 'pending'`,
          [TENANT],
        )
      ).rows[0].n as number;
    // Erasures stay pending while the maintenance queue is paused, so the quota is full for certain.
    const maintenance = new Queue(QueueName.Maintenance, {
      connection: { host: t.config.redis.host, port: t.config.redis.port },
      prefix: `${t.config.redis.prefix}:bull`,
    });
    const fits: HttpAnswer[] = [];
    const overSchemas: [string, HttpAnswer][] = [];
    const erasures: HttpAnswer[][] = [];
    let completed = false;
    try {
      await maintenance.pause();
      await underAttack('schema and erasure quotas', (b) =>
        whileB(b, async (i) => {
          if (i === 0) {
            // Three of the five are attack 2's.
            fits.push(await publish('acme.quota_one'), await publish('acme.quota_two'));
            erasures.push(await Promise.all(Array.from({ length: 6 }, erase)));
            return;
          }
          const name = `acme.quota_${i}`;
          // Once the erasures have completed, the quota would take new ones: only schemas then.
          const [schema, ...refused] = await Promise.all([publish(name), ...(completed ? [] : [erase(), erase()])]);
          overSchemas.push([name, schema]);
          if (refused.length) erasures.push(refused);
          if (!completed) {
            // The worker erases while B is still sending: its ledger lock must not lose B's events.
            await maintenance.resume();
            await waitFor('the pending erasures to complete', async () => (await pending()) === 0, 15_000);
            completed = true;
          }
        }),
      );
    } finally {
      await maintenance.resume();
      await maintenance.close();
    }
    expect(fits.map((r) => [r.status, r.json.ref])).toEqual([
      [201, 'acme.quota_one/1-0-0'],
      [201, 'acme.quota_two/1-0-0'],
    ]);
    expect(overSchemas.length).toBeGreaterThanOrEqual(1);
    for (const [name, res] of overSchemas)
      expectProblem(res, {
        type: 'https://analytics.dev/problems/schema-quota',
        title: 'Schema quota reached',
        status: 422,
        detail: `This tenant has ${SCHEMA_MAX} schema versions published, the most allowed (ANALYTICS_SCHEMA_MAX_COUNT=${SCHEMA_MAX}); ${name} 1-0-0 was not published.`,
        quota: 'schema_count',
        limit: SCHEMA_MAX,
      });
    expect(
      (await t.db.query('SELECT count(*)::int AS n FROM analytics_schemas WHERE tenant_id = $1', [TENANT])).rows[0].n,
    ).toBe(SCHEMA_MAX);

    const [burst, ...later] = erasures;
    expect(burst.map((r) => r.status).sort()).toEqual([202, 202, 429, 429, 429, 429]);
    for (const res of [...burst.filter((r) => r.status === 429), ...later.flat()]) {
      expectProblem(res, {
        type: 'https://analytics.dev/problems/erasure-quota',
        title: 'Too many erasures in flight',
        status: 429,
        detail: `This tenant already has ${ERASURE_MAX} erasure requests pending (ANALYTICS_ERASURE_MAX_PENDING); this one was not recorded. Retry after 5 s, once some have completed.`,
        quota: 'erasures_pending',
        limit: ERASURE_MAX,
      });
      expect(res.headers.get('retry-after')).toBe('5');
    }
    expect(
      (await t.db.query('SELECT count(*)::int AS n FROM analytics_erasures WHERE tenant_id = $1', [TENANT])).rows[0].n,
    ).toBe(ERASURE_MAX);
    await waitFor('the pending erasures to complete', async () => (await pending()) === 0, 15_000);
  });

  // The slow clients run before the credential attack: its throttle would refuse their bad key.
  it(`8. a dripped body is answered 408 and closed within ANALYTICS_HTTP_REQUEST_TIMEOUT_MS; a bad key is 401 before the body`, async () => {
    const { port } = new URL(t.url);
    const head = (key: string, length: number) =>
      `POST ${EVENTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${length}\r\n\r\n`;
    /** Writes `head`, drips the body if told; resolves with what was read once the server closed (or answered, `untilAnswer`). */
    const raw = (text: string, drip: boolean, untilAnswer = false) =>
      new Promise<{ read: string; closedBy: 'server' | 'client' }>((resolve, reject) => {
        let read = '';
        let timer: NodeJS.Timeout | undefined;
        // Never an unbounded wait: a connection the server holds ten times its timeout fails the test.
        const guard = setTimeout(() => {
          s.destroy();
          reject(new Error(`the server held the connection for ${REQUEST_TIMEOUT_MS * 10} ms; read ${read}`));
        }, REQUEST_TIMEOUT_MS * 10);
        const finish = (closedBy: 'server' | 'client') => {
          clearTimeout(guard);
          clearInterval(timer);
          resolve({ read, closedBy });
        };
        const s = connect(Number(port), '127.0.0.1', () => {
          s.write(text);
          if (drip) timer = setInterval(() => s.writable && s.write('{'), 50);
        });
        s.on('data', (d) => {
          read += d.toString('utf8');
          const end = read.indexOf('\r\n\r\n');
          const length = /content-length: (\d+)/i.exec(read);
          if (untilAnswer && end >= 0 && length && Buffer.byteLength(read) >= end + 4 + Number(length[1])) {
            s.destroy();
            finish('client');
          }
        });
        s.on('error', () => undefined); // a reset after the server closed: the close event follows
        s.on('close', () => finish('server'));
      });
    const badKey = `ak_${'0'.repeat(12)}_${'A'.repeat(43)}`;
    const dripped: { read: string; closedBy: string }[] = [];
    const early: { read: string; closedBy: string }[] = [];
    await underAttack('slow clients', (b) =>
      whileB(b, async () => {
        const [d1, d2, d3, bad] = await Promise.all([
          raw(head(t.tenant.ingest, 1000), true),
          raw(head(t.tenant.ingest, 1000), true),
          raw(head(t.tenant.ingest, 1000), true),
          raw(head(badKey, 1000), false, true),
        ]);
        dripped.push(d1, d2, d3);
        early.push(bad);
      }),
    );
    expect(dripped.length).toBeGreaterThanOrEqual(3);
    expect(dripped).toEqual(
      dripped.map(() => ({ read: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n', closedBy: 'server' })),
    );
    for (const e of early) {
      expect(e.read).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
      expect(JSON.parse(e.read.slice(e.read.indexOf('\r\n\r\n') + 4))).toEqual(
        unauthorized('The API key is not valid.'),
      );
    }
  });

  it(`7. bad JWTs, "Bearer <key> junk" are 401; sprayed key ids are 429 after ANALYTICS_AUTH_FAILURES_PER_MIN (${AUTH_FAILURES}) with no lookup, B's key still works`, async () => {
    const apiClock = t.api!.get<Clock>(CLOCK);
    const nowS = () => Math.floor(apiClock.now() / 1000);
    const token = (claims: { iat?: number; exp?: number }) => {
      const jwt = new SignJWT({ tenant_id: TENANT, scope: 'ingest', aud: AUD })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('dash-user')
        .setIssuer(ISS);
      if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
      if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
      return jwt.sign(new TextEncoder().encode(SECRET));
    };
    const badTokens: [() => Promise<string>, string][] = [
      [() => token({ iat: nowS() }), 'The token is not valid: missing required "exp" claim.'],
      [
        () => token({ iat: nowS(), exp: 1e300 }),
        'The token is not valid: it is valid for 1e+300 s (exp − iat); at most 3600 s are accepted (ANALYTICS_JWT_MAX_LIFETIME_S).',
      ],
      [
        () => token({ iat: nowS() + 365 * 86400, exp: nowS() + 365 * 86400 + 60 }),
        'The token is not valid: "iat" claim timestamp check failed (it should be in the past).',
      ],
    ];
    const junkDetail = 'The Authorization header must be "Bearer <credential>" with exactly one token; it carries 2.';
    const throttledDetail = `Too many failed authentications from this address (more than ${AUTH_FAILURES} a minute, ANALYTICS_AUTH_FAILURES_PER_MIN): credentials this instance does not know are not checked for now. Retry after ${60 / AUTH_FAILURES} s.`;

    const findKey = jest.spyOn(t.api!.get(TenantsRepository), 'findKey');
    let clock: PinnedClock | undefined;
    const jwts: [HttpAnswer, string][] = [];
    const junk: HttpAnswer[] = [];
    const checked: { id: string; res: HttpAnswer }[] = [];
    const throttled: { id: string; res: HttpAnswer }[] = [];
    const spray = async () => {
      const k = generateApiKey();
      return { id: k.id, res: await t.post(EVENTS, makeEvent(), k.key) };
    };
    try {
      await underAttack('credentials', (b) =>
        whileB(b, async (i) => {
          for (const [make, detail] of badTokens) jwts.push([await t.post(EVENTS, makeEvent(), await make()), detail]);
          junk.push(await t.post(EVENTS, makeEvent(), null, { authorization: `Bearer ${t.tenant.ingest} junk` }));
          if (i === 0) {
            // The api's clock stops, a minute on: the failures so far have refilled, and none refill now.
            clock = pinClock(t.api!, Date.now() + 60_000);
            for (let n = 0; n < AUTH_FAILURES; n++) checked.push(await spray());
          }
          throttled.push(...(await Promise.all([spray(), spray()])));
        }),
      );
    } finally {
      clock?.release();
    }
    const reads = findKey.mock.calls.map((c) => c[0]);
    findKey.mockRestore();

    for (const [res, detail] of jwts) expectProblem(res, unauthorized(detail));
    for (const res of junk) {
      expectProblem(res, unauthorized(junkDetail));
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="analytics"');
    }
    expect(checked.map((c) => [c.res.status, c.res.json])).toEqual(
      checked.map(() => [401, unauthorized('The API key is not valid.')]),
    );
    expect(checked).toHaveLength(AUTH_FAILURES);
    expect(throttled.length).toBeGreaterThanOrEqual(2);
    for (const { res } of throttled) {
      expectProblem(res, {
        type: 'https://analytics.dev/problems/auth-throttled',
        title: 'Too many failed authentications',
        status: 429,
        detail: throttledDetail,
      });
      expect(res.headers.get('retry-after')).toBe(String(60 / AUTH_FAILURES));
    }
    // Each checked id was read once; no throttled one was read at all.
    expect(reads.filter((id) => checked.some((c) => c.id === id)).sort()).toEqual(checked.map((c) => c.id).sort());
    expect(reads.filter((id) => throttled.some((c) => c.id === id))).toEqual([]);
  });

  it('stored every event B sent, once, and nothing of B was refused', async () => {
    await drained(t.ingestQueue);
    expect(
      (await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw WHERE tenant_id = $1', [OTHER_TENANT]))
        .rows[0].n,
    ).toBe(allB.length);
    expect(new Set(allB).size).toBe(allB.length);
  });
});
