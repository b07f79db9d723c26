import { randomUUID } from 'node:crypto';
import { BATCH, makeEvent } from './support/events';
import { settled } from './support/queue';
import { createTestEnv, TestEnv } from './support/test-env';

const REPORTS = '/api/v1/analytics/reports';
const HOUR = 3_600_000;
const SITE = '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31';
const OTHER_SITE = '6a1d4b63-8e3f-4c9a-b2da-1f7e5c3b9a42';

type Stages = Partial<Record<'endpoint' | 'stt_final' | 'llm_ttft' | 'tool' | 'tts_ttfb' | 'playout' | 'e2e', number>>;
const ATTRIBUTE: Record<keyof Stages, string> = {
  endpoint: 'voice.latency.endpoint_ms',
  stt_final: 'voice.latency.stt_final_ms',
  llm_ttft: 'voice.latency.llm_ttft_ms',
  tool: 'voice.latency.tool_ms',
  tts_ttfb: 'voice.latency.tts_ttfb_ms',
  playout: 'voice.latency.playout_ms',
  e2e: 'voice.latency.e2e_ms',
};

/**
 * The waterfall and the turn outcomes against a data set small enough to compute by hand: six
 * turns in one hour (one of them with no stage at all, one with only endpointing and end to end),
 * two of them sent from the server, and turns of another tenant and another hour that must not count.
 */
describe('turn-latency waterfall and turn outcomes', () => {
  let t: TestEnv;
  const hour = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR;
  const at = (minute: number) => new Date(hour + minute * 60_000).toISOString();
  const range = { from: new Date(hour).toISOString(), to: new Date(hour + HOUR).toISOString() };

  const turn = (
    tenant: string,
    minute: number,
    source: string,
    stages: Stages,
    outcome: Record<string, unknown> = { 'voice.turn.end_reason': 'completed' },
    site = SITE,
  ) =>
    makeEvent({
      tenant_id: tenant,
      occurred_at: at(minute),
      event_name: 'voice.turn_completed',
      source,
      site_id: site,
      attributes: {
        'voice.turn_id': randomUUID(),
        'gen_ai.conversation.id': 'conv-1',
        ...Object.fromEntries(Object.entries(stages).map(([k, v]) => [ATTRIBUTE[k as keyof Stages], v])),
        ...outcome,
      },
    });

  beforeAll(async () => {
    t = await createTestEnv();
    const a = t.tenant.id;
    const events = [
      turn(a, 1, 'server', { endpoint: 100, stt_final: 80, llm_ttft: 300, tts_ttfb: 100, playout: 20, e2e: 600 }),
      turn(
        a,
        2,
        'web',
        { endpoint: 200, stt_final: 120, llm_ttft: 400, tool: 150, tts_ttfb: 120, playout: 40, e2e: 900 },
        {
          'voice.turn.end_reason': 'interrupted_by_user',
          'voice.barge_in.by': 'user',
          'voice.barge_in.yield_ms': 180,
        },
      ),
      turn(
        a,
        3,
        'server',
        { endpoint: 300, stt_final: 160, llm_ttft: 500, tts_ttfb: 80, playout: 60, e2e: 1000 },
        {
          'voice.turn.end_reason': 'completed',
          'voice.barge_in.by': 'user',
          'voice.barge_in.yield_ms': 90,
          'voice.barge_in.resumed': true,
        },
      ),
      turn(
        a,
        4,
        'web',
        { endpoint: 400, stt_final: 200, llm_ttft: 200, tool: 50, tts_ttfb: 100, playout: 30, e2e: 800 },
        {
          'voice.turn.end_reason': 'interrupted_by_agent',
          'voice.barge_in.by': 'agent',
          'voice.barge_in.yield_ms': 300,
        },
      ),
      turn(a, 5, 'web', { endpoint: 1000, e2e: 1700 }, { 'voice.turn.end_reason': 'session_closed' }),
      turn(a, 6, 'web', {}, { 'voice.turn.end_reason': 'error', 'error.type': 'stt_timeout' }, OTHER_SITE),
      // not in the range, or not this tenant's
      turn(a, 61, 'web', { endpoint: 9000, e2e: 9000 }),
      turn(t.other.id, 7, 'web', { endpoint: 5, tool: 5, e2e: 5 }),
    ];
    for (const tenant of [t.tenant, t.other]) {
      const mine = events.filter((e) => e.tenant_id === tenant.id);
      const res = await t.post(BATCH, { events: mine }, tenant.ingest);
      expect([res.status, res.json.accepted]).toEqual([202, mine.length]);
    }
    await settled(t);
  }, 60_000);
  afterAll(async () => {
    await t.close();
  });

  const waterfall = (body: Record<string, unknown>) =>
    t.post(`${REPORTS}/waterfall`, { tenantId: t.tenant.id, ...range, ...body }, t.tenant.report);

  /** A stage as computed by hand: nearest-rank p50/p95/p99, mean, mean ÷ end-to-end mean. */
  const stage = (name: string, turns: number, p50: number, p95: number, p99: number, mean: number, e2e: number) => ({
    stage: name,
    metric: `voice.turn.${name}_ms`,
    turns,
    p50,
    p95,
    p99,
    mean,
    share_of_e2e: mean / e2e,
  });

  /** Percentiles within the sketch's 1 %, means and shares exact. */
  function expectStages(got: Record<string, number>[], want: ReturnType<typeof stage>[]) {
    expect(got.map((s) => s.stage)).toEqual(want.map((s) => s.stage));
    got.forEach((g, i) => {
      const w = want[i];
      expect([g.stage, g.metric, g.turns]).toEqual([w.stage, w.metric, w.turns]);
      for (const q of ['p50', 'p95', 'p99'] as const)
        expect([w.stage, q, Math.abs(g[q] - w[q]) / w[q] <= 0.01]).toEqual([w.stage, q, true]);
      expect(g.mean).toBeCloseTo(w.mean, 9);
      expect(g.share_of_e2e).toBeCloseTo(w.share_of_e2e, 12);
    });
  }

  it('answers each stage p50/p95/p99 and its share of the end-to-end time, as computed by hand', async () => {
    const res = await waterfall({});
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ from: range.from, to: range.to, turns: 6 });
    // endpoint [100,200,300,400,1000]; stt [80,120,160,200]; llm [200,300,400,500]; tool [50,150];
    // tts [80,100,100,120]; playout [20,30,40,60]; e2e [600,800,900,1000,1700], mean 1000.
    expectStages(res.json.stages, [
      stage('endpoint', 5, 300, 1000, 1000, 400, 1000),
      stage('stt_final', 4, 120, 200, 200, 140, 1000),
      stage('llm_ttft', 4, 300, 500, 500, 350, 1000),
      stage('tool', 2, 50, 150, 150, 100, 1000),
      stage('tts_ttfb', 4, 100, 120, 120, 100, 1000),
      stage('playout', 4, 30, 60, 60, 37.5, 1000),
      stage('e2e', 5, 900, 1700, 1700, 1000, 1000),
    ]);
  });

  it('leaves out a stage no turn of the filter reported, rather than answering 0', async () => {
    // source server: turns 1 and 3, neither used a tool; e2e [600, 1000], mean 800.
    const res = await waterfall({ source: 'server' });
    expect([res.status, res.json.turns]).toEqual([200, 2]);
    expectStages(res.json.stages, [
      stage('endpoint', 2, 100, 300, 300, 200, 800),
      stage('stt_final', 2, 80, 160, 160, 120, 800),
      stage('llm_ttft', 2, 300, 500, 500, 400, 800),
      stage('tts_ttfb', 2, 80, 100, 100, 90, 800),
      stage('playout', 2, 20, 60, 60, 40, 800),
      stage('e2e', 2, 600, 1000, 1000, 800, 800),
    ]);
    // the other site: one turn that ended in an error, with no stage at all
    const other = await waterfall({ site_id: OTHER_SITE });
    expect([other.status, other.json.turns, other.json.stages]).toEqual([200, 1, []]);
  });

  it('refuses a bad range with a problem pointing at the field', async () => {
    const res = await waterfall({ from: 'yesterday' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      type: 'https://analytics.dev/problems/invalid-report',
      errors: [{ pointer: '/from' }],
    });
    const long = await waterfall({ from: '2020-01-01T00:00:00Z' });
    expect(long.status).toBe(400);
    expect(long.json.detail).toContain('ANALYTICS_REPORT_MAX_RANGE_DAYS');
  });

  it('counts end reasons, barge-ins by whom, time to yield and false interruptions', async () => {
    const res = await t.post(
      `${REPORTS}/summary`,
      {
        tenantId: t.tenant.id,
        ...range,
        metrics: [
          'voice.turns.count',
          'voice.turn.completed_rate',
          'voice.turn.interrupted_by_user_rate',
          'voice.turn.interrupted_by_agent_rate',
          'voice.turn.error_rate',
          'voice.turn.session_closed_rate',
          'voice.barge_in.by_user.count',
          'voice.barge_in.by_agent.count',
          'voice.barge_in.yield_ms.p50',
          'voice.barge_in.yield_ms.p99',
          'voice.barge_in.false_interruption_rate',
        ],
      },
      t.tenant.report,
    );
    expect(res.status).toBe(200);
    const v = (n: string) => res.json.metrics[n].value;
    expect(v('voice.turns.count')).toBe(6);
    expect(v('voice.turn.completed_rate')).toBeCloseTo(2 / 6, 12);
    expect(v('voice.turn.interrupted_by_user_rate')).toBeCloseTo(1 / 6, 12);
    expect(v('voice.turn.interrupted_by_agent_rate')).toBeCloseTo(1 / 6, 12);
    expect(v('voice.turn.error_rate')).toBeCloseTo(1 / 6, 12);
    expect(v('voice.turn.session_closed_rate')).toBeCloseTo(1 / 6, 12);
    expect(v('voice.barge_in.by_user.count')).toBe(2);
    expect(v('voice.barge_in.by_agent.count')).toBe(1);
    // yield [90, 180, 300]: p50 rank 2, p99 rank 3
    expect(Math.abs(v('voice.barge_in.yield_ms.p50') - 180) / 180).toBeLessThanOrEqual(0.01);
    expect(Math.abs(v('voice.barge_in.yield_ms.p99') - 300) / 300).toBeLessThanOrEqual(0.01);
    // two user barge-ins, one resumed from
    expect(v('voice.barge_in.false_interruption_rate')).toBeCloseTo(1 / 2, 12);
  });
});
