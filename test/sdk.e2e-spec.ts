import { AnalyticsError, createAnalyticsClient, TrackedVerdict } from '../sdk/src';
import { waitFor } from './support/events';
import { settled } from './support/queue';
import { createTestEnv, TestEnv } from './support/test-env';

const SITE = '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31';
const SESSION = '9a7b1c3d-2e4f-4a6b-8c0d-1e2f3a4b5c6d';

/**
 * The SDK against the real service (api and worker, Postgres, Redis): the brief's helpers produce
 * events the built-in schemas accept, stored with their attributes; and a client sending 10,000
 * events through an api restart ends with each stored exactly once.
 */
describe('the SDK against the service', () => {
  let t: TestEnv;
  const stored = async (where = 'TRUE') =>
    (
      await t.db.query(
        `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS d FROM analytics_events_raw WHERE ${where}`,
      )
    ).rows[0] as { n: number; d: number };

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("every helper's events are accepted and stored with their attributes", async () => {
    const verdicts: TrackedVerdict[] = [];
    const errors: AnalyticsError[] = [];
    const c = createAnalyticsClient({
      baseUrl: t.url,
      apiKey: t.tenant.ingest,
      flushOnExit: false,
      onVerdict: (v) => verdicts.push(v),
      onError: (e) => errors.push(e),
    });
    const tenant = t.tenant.id;
    const conversation = 'conv-42';
    const all = await Promise.all([
      c.trackVoiceMetrics(tenant, SITE, SESSION, {
        firstResponseMs: 450,
        bargeInMs: 200,
        asrLatencyMs: 50,
        turnId: 't-1',
      }),
      c.trackToolExecution(tenant, SITE, 'navigation.goto', 'navigation', 150, true, conversation),
      c.trackToolExecution(tenant, SITE, 'booking.reserve', 'booking', 900, false, conversation, {
        errorType: 'timeout',
      }),
      c.trackKBSearch(tenant, SITE, 'product pricing information', 5, 45, 0.89, conversation),
      c.trackProductView(tenant, SITE, 'sku-1', { price: 19.9, currency: 'EUR', sessionId: SESSION }),
      c.trackAddToCart(tenant, SITE, 'sku-1', 2, { price: 19.9, currency: 'EUR', sessionId: SESSION }),
      c.trackCheckout(tenant, SITE, 'order-7', 39.8, 'EUR', { itemsCount: 2, sessionId: SESSION }),
      c.trackSlotHold(tenant, SITE, 'hold-3', '2026-12-24T18:00:00Z', { resourceId: 'table-4' }),
      c.trackBookingConfirmed(tenant, SITE, 'hold-3', 'booking-9'),
      c.flush(),
    ]);
    expect(errors).toEqual([]);
    expect(all.flat().filter(Boolean)).toHaveLength(11);
    expect(verdicts.map((v) => [v.event_name, v.status])).toEqual(
      [
        'voice.first_response',
        'voice.barge_in',
        'voice.asr_partial',
        'ai.tool_call_completed',
        'ai.tool_call_completed',
        'kb.search',
        'commerce.view',
        'commerce.add_to_cart',
        'commerce.checkout',
        'booking.slot_hold',
        'booking.confirmed',
      ].map((name) => [name, 'accepted']),
    );
    await waitFor('11 stored events', async () => (await stored()).n === 11);
    const rows = (
      await t.db.query(
        `SELECT event_name, site_id, session_id, source, attributes FROM analytics_events_raw ORDER BY event_name, attributes->>'gen_ai.tool.name'`,
      )
    ).rows;
    const byName = (name: string) => rows.filter((r) => r.event_name === name).map((r) => r.attributes);
    expect(rows.every((r) => r.site_id === SITE && r.source === 'server')).toBe(true);
    expect(byName('voice.first_response')).toEqual([
      { 'voice.turn_id': 't-1', 'voice.session_id': SESSION, 'voice.first_response_ms': 450 },
    ]);
    expect(byName('voice.barge_in')).toEqual([
      { 'voice.turn_id': 't-1', 'voice.session_id': SESSION, 'voice.barge_in_ms': 200 },
    ]);
    expect(byName('voice.asr_partial')).toEqual([
      { 'voice.turn_id': 't-1', 'voice.session_id': SESSION, 'voice.asr_latency_ms': 50 },
    ]);
    const tools = byName('ai.tool_call_completed');
    expect(tools.map(({ 'gen_ai.tool.call.id': id, ...rest }) => [typeof id, rest])).toEqual([
      [
        'string',
        {
          'gen_ai.tool.name': 'booking.reserve',
          'ai.tool.category': 'booking',
          'ai.tool.duration_ms': 900,
          'ai.tool.success': false,
          'error.type': 'timeout',
          'gen_ai.conversation.id': conversation,
        },
      ],
      [
        'string',
        {
          'gen_ai.tool.name': 'navigation.goto',
          'ai.tool.category': 'navigation',
          'ai.tool.duration_ms': 150,
          'ai.tool.success': true,
          'gen_ai.conversation.id': conversation,
        },
      ],
    ]);
    const [kb] = byName('kb.search');
    expect({ ...kb, 'kb.search_id': typeof kb['kb.search_id'] }).toEqual({
      'kb.search_id': 'string',
      'kb.query': 'product pricing information',
      'kb.results_count': 5,
      'kb.latency_ms': 45,
      'kb.top_score': 0.89,
      'gen_ai.conversation.id': conversation,
    });
    expect(byName('commerce.view')).toEqual([
      { 'commerce.item_id': 'sku-1', 'commerce.price': 19.9, 'commerce.currency': 'EUR' },
    ]);
    expect(byName('commerce.add_to_cart')).toEqual([
      { 'commerce.item_id': 'sku-1', 'commerce.quantity': 2, 'commerce.price': 19.9, 'commerce.currency': 'EUR' },
    ]);
    expect(byName('commerce.checkout')).toEqual([
      { 'commerce.order_id': 'order-7', 'commerce.value': 39.8, 'commerce.currency': 'EUR', 'commerce.items_count': 2 },
    ]);
    expect(byName('booking.slot_hold')).toEqual([
      { 'booking.hold_id': 'hold-3', 'booking.slot_start': '2026-12-24T18:00:00Z', 'booking.resource_id': 'table-4' },
    ]);
    expect(byName('booking.confirmed')).toEqual([{ 'booking.hold_id': 'hold-3', 'booking.booking_id': 'booking-9' }]);
    const commerce = rows.filter((r) => r.event_name.startsWith('commerce.') || r.event_name.startsWith('voice.'));
    expect(commerce.every((r) => r.session_id === SESSION)).toBe(true);

    // The typed reports read them back, once they are folded into the rollups.
    await settled(t);
    const day = new Date();
    day.setUTCHours(0, 0, 0, 0);
    const summary = await createAnalyticsClient({
      baseUrl: t.url,
      apiKey: t.tenant.report,
      tenantId: t.tenant.id,
      flushOnExit: false,
    }).reports.summary({
      metrics: ['ai.tool_calls.count', 'ai.tool_calls.success_rate'],
      from: new Date(day.getTime() - 86_400_000).toISOString(),
      to: new Date(day.getTime() + 2 * 86_400_000).toISOString(),
    });
    expect(summary.metrics).toEqual({
      'ai.tool_calls.count': { value: 2, count: 2 },
      'ai.tool_calls.success_rate': { value: 0.5, count: 2 },
    });
    await c.close();
  });

  it('10,000 events sent through an api restart are each stored exactly once', async () => {
    await t.db.query('TRUNCATE analytics_events_raw');
    const port = Number(new URL(t.url).port);
    const verdicts = new Map<string, number>();
    const errors: AnalyticsError[] = [];
    let retries = 0;
    const c = createAnalyticsClient({
      baseUrl: t.url,
      apiKey: t.tenant.ingest,
      tenantId: t.tenant.id,
      flushOnExit: false,
      batch: { maxSize: 100, lingerMs: 5 },
      retry: { maxAttempts: 40, baseDelayMs: 20, maxDelayMs: 500 },
      onVerdict: (v) => verdicts.set(v.status, (verdicts.get(v.status) ?? 0) + 1),
      onError: (e) => errors.push(e),
      onRetry: () => retries++,
    });
    const TOTAL = 10_000;
    const pending: Promise<unknown>[] = [];
    let restarted = false;
    for (let i = 0; i < TOTAL; i++) {
      pending.push(
        c.track({ event_name: 'commerce.view', session_id: SESSION, attributes: { 'commerce.item_id': `sku-${i}` } }),
      );
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
      if (i === 3000) {
        // The api goes away mid-stream (its requests in flight drained) and comes back on the same port.
        await waitFor('the first verdicts', () => (verdicts.get('accepted') ?? 0) >= 1000, 60_000);
        await t.api!.close();
        restarted = true;
        await t.startApi(port);
      }
    }
    await c.flush();
    await Promise.allSettled(pending);
    expect(restarted).toBe(true);
    expect(errors).toEqual([]);
    const accepted = verdicts.get('accepted') ?? 0;
    const duplicate = verdicts.get('duplicate') ?? 0;
    expect(accepted + duplicate).toBe(TOTAL);
    expect([...verdicts.keys()].filter((k) => k !== 'accepted' && k !== 'duplicate')).toEqual([]);
    await waitFor(`${TOTAL} stored events`, async () => (await stored()).n >= TOTAL, 120_000);
    expect(await stored()).toEqual({ n: TOTAL, d: TOTAL });
    console.log(
      `SDK through an api restart: ${TOTAL} sent, ${accepted} accepted, ${duplicate} duplicate (resends), ${retries} retries; stored ${TOTAL}, each once`,
    );
    await c.close();
  }, 240_000);

  it('trackVoiceTurn sends one voice.turn_completed with the stages measured and none that were not', async () => {
    const c = createAnalyticsClient({ baseUrl: t.url, apiKey: t.tenant.ingest, flushOnExit: false });
    const [verdict] = await Promise.all([
      c.trackVoiceTurn(t.tenant.id, SITE, SESSION, {
        turnId: 'turn-9',
        conversationId: 'conv-9',
        index: 2,
        endReason: 'interrupted_by_user',
        stages: { endpointMs: 180, llmTtftMs: 310, e2eMs: 790 },
        bargeIn: { by: 'user', yieldMs: 120, resumed: false },
        stt: { audioMs: 2400, provider: 'deepgram' },
      }),
      c.flush(),
    ]);
    expect([verdict.event_name, verdict.status]).toEqual(['voice.turn_completed', 'accepted']);
    const where = `event_name = 'voice.turn_completed'`;
    await waitFor('the turn stored', async () => (await stored(where)).n === 1);
    const row = (await t.db.query(`SELECT session_id::text, attributes FROM analytics_events_raw WHERE ${where}`))
      .rows[0];
    expect(row).toEqual({
      session_id: SESSION,
      attributes: {
        'voice.turn_id': 'turn-9',
        'voice.session_id': SESSION,
        'gen_ai.conversation.id': 'conv-9',
        'voice.turn.index': 2,
        'voice.turn.end_reason': 'interrupted_by_user',
        'voice.latency.endpoint_ms': 180,
        'voice.latency.llm_ttft_ms': 310,
        'voice.latency.e2e_ms': 790,
        'voice.barge_in.by': 'user',
        'voice.barge_in.yield_ms': 120,
        'voice.barge_in.resumed': false,
        'voice.stt.audio_ms': 2400,
        'voice.stt.provider': 'deepgram',
      },
    });
    await c.close();
  });
});
