import { randomUUID } from 'node:crypto';
import { EVENTS, OTHER_TENANT, makeEvent } from './support/events';
import { drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

/**
 * Tenant patterns run on RE2: patterns that backtrack polynomially on V8's engine are answered at
 * once, whatever the string, while another tenant ingests and the liveness probe answers. Before
 * RE2, one 150-character string held the event loop for 7 s; the 8,000-character strings here
 * would have held it for days. The publish-time analysis now refuses such patterns too, so the
 * schemas holding them are stored as a registry filled before that analysis would hold them.
 */
const SCHEMAS = '/api/v1/analytics/schemas';
const POLY = '^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*!$';
const POLY_WORD = '^\\w*\\w*\\w*\\w*\\w*!$';
const LONG = 'a'.repeat(8000); // a string near the 8,192-character limit
const LONG_KEY = 'a'.repeat(256); // the longest property name the payload guard lets through

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

describe('tenant patterns cannot stall the service', () => {
  let t: TestEnv;
  const publish = (event_name: string, schema: Record<string, unknown>) =>
    t.post(SCHEMAS, { event_name, version: '1-0-0', schema }, t.tenant.admin);
  const forA = (event_name: string, attributes: Record<string, unknown>) => makeEvent({ event_name, attributes });
  const forB = () => makeEvent({ tenant_id: OTHER_TENANT });
  const timedB = async (): Promise<{ ms: number; id: string; status: number; verdict: string }> => {
    const event = forB();
    const started = process.hrtime.bigint();
    const res = await t.post(EVENTS, event, t.other.ingest);
    return {
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      id: event.event_id as string,
      status: res.status,
      verdict: res.json?.status,
    };
  };

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses the super-linear patterns and what RE2 cannot run, with the reason', async () => {
    const probes: [string, Record<string, unknown>][] = [
      ['acme.pattern_probe', { type: 'object', properties: { 'probe.text': { type: 'string', pattern: POLY } } }],
      [
        'acme.keyed_probe',
        { type: 'object', patternProperties: { [POLY_WORD]: { type: 'number' } }, additionalProperties: false },
      ],
      ['acme.named_probe', { type: 'object', propertyNames: { pattern: POLY } }],
    ];
    const refused = await Promise.all(probes.map(([name, schema]) => publish(name, schema)));
    expect(refused.map((r) => [r.status, r.json.reasons])).toEqual([
      [400, [expect.stringMatching(/^\/properties\/probe.text\/pattern: the pattern .* can take polynomial/)]],
      [400, [expect.stringMatching(/^\/patternProperties: the pattern .* can take polynomial/)]],
      [400, [expect.stringMatching(/^\/propertyNames\/pattern: the pattern .* can take polynomial/)]],
    ]);
    // The runtime half of the defence: such schemas, stored as an older registry would hold them.
    for (const [name, schema] of probes)
      await t.db.query(
        `INSERT INTO analytics_schemas (tenant_id, name, kind, model, revision, addition, schema) VALUES ($1, $2, 'event', 1, 0, 0, $3)`,
        [t.tenant.id, name, JSON.stringify(schema)],
      );

    const lookahead = await publish('acme.lookahead_probe', {
      type: 'object',
      propertyNames: { pattern: '^(?!x)[a-z]*[a-z]*!$' },
    });
    expect(lookahead.status).toBe(400);
    expect(lookahead.json).toMatchObject({
      type: expect.stringMatching(/unsafe-schema$/),
      title: 'Schema refused',
      detail:
        'The schema cannot be published (1 reason): /propertyNames/pattern: the pattern "^(?!x)[a-z]*[a-z]*!$" uses a lookahead, which the linear-time engine does not support',
      reasons: [
        '/propertyNames/pattern: the pattern "^(?!x)[a-z]*[a-z]*!$" uses a lookahead, which the linear-time engine does not support',
      ],
    });

    const backreference = await publish('acme.backref_probe', {
      type: 'object',
      properties: { s: { type: 'string', pattern: '^(a+)\\1$' } },
    });
    expect(backreference.status).toBe(400);
    expect(backreference.json.reasons).toEqual([
      '/properties/s/pattern: the pattern "^(a+)\\\\1$" uses a backreference (\\1), which the linear-time engine does not support',
    ]);

    // Exponential backtracking is refused too, though RE2 would run the pattern in linear time.
    const nested = await publish('acme.nested_probe', { type: 'object', propertyNames: { pattern: '^(\\w+\\s?)*$' } });
    expect(nested.status).toBe(400);
    expect(nested.json.reasons).toEqual([
      expect.stringMatching(
        /^\/propertyNames\/pattern: the pattern "\^\(\\\\w\+\\\\s\?\)\*\$" can take exponential time/,
      ),
    ]);
  });

  it("answers tenant A's hostile events with the right verdict while tenant B ingests and /health/live answers", async () => {
    // B alone, for comparison.
    const quiet: Awaited<ReturnType<typeof timedB>>[] = [];
    for (let i = 0; i < 40; i++) quiet.push(await timedB());

    const hostile = [
      {
        event: forA('acme.pattern_probe', { 'probe.text': LONG }),
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
        event: forA('acme.keyed_probe', { [LONG_KEY]: 1 }),
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
        event: forA('acme.named_probe', { [LONG_KEY]: 1 }),
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
      {
        // Longer keys never reach a pattern: the payload guard refuses them first.
        event: forA('acme.named_probe', { [LONG]: 1 }),
        errors: [
          {
            pointer: `/attributes/${LONG}`.slice(0, 64),
            keyword: 'propertyName',
            message: 'a property name under /attributes is 8000 characters long; the limit is 256',
          },
        ],
      },
    ];
    const matching = [
      forA('acme.pattern_probe', { 'probe.text': `${LONG}!` }),
      forA('acme.keyed_probe', { [`${LONG_KEY.slice(1)}!`]: 1 }),
      forA('acme.named_probe', { [`${LONG_KEY.slice(1)}!`]: 1 }),
    ];

    // A's hostile events, ten times over, four requests at a time, each with a /health/live probe
    // sent while it is in flight; B sends its events one after another meanwhile.
    const rounds = 10;
    const aQueue = Array.from({ length: rounds }, () =>
      hostile.map((h) => ({ event: { ...h.event, event_id: randomUUID() }, expected: h.errors })),
    ).flat();
    const aAnswers: { expected: (typeof hostile)[number]['errors']; event_id: string; status: number; json: any }[] =
      [];
    const healthWhileInFlight: number[] = [];
    const aSender = async () => {
      for (let next = aQueue.shift(); next; next = aQueue.shift()) {
        const answer = t.post(EVENTS, next.event);
        const health = await t.get('/api/v1/analytics/health/live');
        healthWhileInFlight.push(health.status);
        const res = await answer;
        aAnswers.push({ expected: next.expected, event_id: next.event.event_id, status: res.status, json: res.json });
      }
    };
    const loud: Awaited<ReturnType<typeof timedB>>[] = [];
    const bSender = async () => {
      for (let i = 0; i < 40; i++) loud.push(await timedB());
    };
    await Promise.all([aSender(), aSender(), aSender(), aSender(), bSender()]);

    const accepted = await Promise.all(matching.map((e) => t.post(EVENTS, e)));
    expect(accepted.map((r) => [r.status, r.json])).toEqual(
      matching.map((e) => [202, { index: 0, event_id: e.event_id, status: 'accepted' }]),
    );

    expect(aAnswers).toHaveLength(rounds * hostile.length);
    for (const a of aAnswers) {
      expect(a.status).toBe(400);
      expect(a.json).toMatchObject({ status: 400, title: 'Invalid event', errors: a.expected });
      expect(a.json.result).toEqual({ index: 0, event_id: a.event_id, status: 'rejected', errors: a.expected });
    }
    expect(healthWhileInFlight).toEqual(aAnswers.map(() => 200));
    expect([...quiet, ...loud].map((b) => [b.status, b.verdict])).toEqual(
      [...quiet, ...loud].map(() => [202, 'accepted']),
    );

    await drained(t.ingestQueue);
    const bIds = [...quiet, ...loud].map((b) => b.id);
    const { rows } = await t.db.query(
      `SELECT event_id, count(*)::int AS n FROM analytics_events_raw WHERE tenant_id = $1 GROUP BY event_id`,
      [OTHER_TENANT],
    );
    expect(new Map(rows.map((r) => [r.event_id, r.n]))).toEqual(new Map(bIds.map((id) => [id, 1])));
    const { rows: aRows } = await t.db.query(
      `SELECT event_id FROM analytics_events_raw WHERE tenant_id = $1 ORDER BY event_id`,
      [t.tenant.id],
    );
    expect(aRows.map((r) => r.event_id)).toEqual(matching.map((e) => e.event_id).sort());

    const ms = (xs: { ms: number }[]) => xs.map((x) => x.ms);
    console.log(
      `tenant B single-event latency: alone median ${median(ms(quiet)).toFixed(1)} ms, p95 ${p95(ms(quiet)).toFixed(1)} ms (${quiet.length} events); ` +
        `during tenant A's ${rounds * hostile.length} hostile events median ${median(ms(loud)).toFixed(1)} ms, p95 ${p95(ms(loud)).toFixed(1)} ms (${loud.length} events)`,
    );
  });
});
