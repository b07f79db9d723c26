import { BATCH, makeEvent } from './support/events';
import { settled } from './support/queue';
import { createTestEnv, TestEnv } from './support/test-env';

const BOOKS = '/api/v1/analytics/price-books';
const REPORTS = '/api/v1/analytics/reports';
const DAY = 86_400_000;
const HOUR = 3_600_000;

/**
 * Price books against hand-computed costs: a price change at noon splits the day's cost exactly,
 * a model without a price is reported (and its bucket's cost is unknown, not 0), and re-pricing the
 * day after a book valid from the past gives the recomputed totals, once.
 */
describe('price books and exact cost', () => {
  let t: TestEnv;
  const day = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
  const iso = (ms: number) => new Date(ms).toISOString();
  const llm = (hour: number, model: string, conversation: string, turn: string) =>
    makeEvent({
      tenant_id: t.tenant.id,
      occurred_at: iso(day + hour * HOUR),
      event_name: 'ai.llm_call_completed',
      attributes: {
        'gen_ai.request.model': model,
        'gen_ai.provider.name': model === 'gpt-4o-mini' ? 'openai' : 'acme',
        'gen_ai.usage.input_tokens': model === 'gpt-4o-mini' ? 1000 : 50,
        ...(model === 'gpt-4o-mini'
          ? { 'gen_ai.usage.output_tokens': 100, 'gen_ai.usage.cache_read.input_tokens': 200 }
          : {}),
        'gen_ai.conversation.id': conversation,
        'voice.turn_id': turn,
      },
    });
  const voice = [
    { unit: 'stt_second', provider: 'deepgram', price: '0.0001' },
    { unit: 'tts_character', provider: 'elevenlabs', price: '0.00003' },
  ];
  const publish = (body: Record<string, unknown>) => t.post(BOOKS, body, t.tenant.admin);
  const cost = (body: Record<string, unknown> = {}) =>
    t.post(`${REPORTS}/cost`, { tenantId: t.tenant.id, from: iso(day), to: iso(day + DAY), ...body }, t.tenant.report);
  const series = async (metric: string, grain: string) => {
    const res = await t.post(
      `${REPORTS}/timeseries`,
      { tenantId: t.tenant.id, metric, grain, from: iso(day), to: iso(day + DAY) },
      t.tenant.report,
    );
    expect([metric, res.status, res.json.meta.level]).toEqual([metric, 200, 'usage']);
    return res.json.points as { t: string; value: number | null; count: number }[];
  };

  beforeAll(async () => {
    t = await createTestEnv();
    // v1 from midnight, v2 from noon: only the input price changes
    const v1 = await publish({
      currency: 'USD',
      valid_from: iso(day),
      prices: [
        { model: 'gpt-4o-mini', unit: 'input_token', price: '0.15', per: 1_000_000 },
        { model: 'gpt-4o-mini', unit: 'cache_read_token', price: '0.075', per: 1_000_000 },
        { provider: 'openai', unit: 'output_token', price: '0.60', per: 1_000_000 },
        ...voice,
      ],
    });
    expect([v1.status, v1.json]).toEqual([
      201,
      { version: 1, currency: 'USD', valid_from: iso(day), reprice_needed: true },
    ]);
    const v2 = await publish({
      currency: 'USD',
      valid_from: iso(day + 12 * HOUR),
      prices: [
        { model: 'gpt-4o-mini', unit: 'input_token', price: '0.30', per: 1_000_000 },
        { model: 'gpt-4o-mini', unit: 'cache_read_token', price: '0.075', per: 1_000_000 },
        { provider: 'openai', unit: 'output_token', price: '0.60', per: 1_000_000 },
        ...voice,
      ],
    });
    expect([v2.status, v2.json.version]).toEqual([201, 2]);
    const events = [
      llm(6, 'gpt-4o-mini', 'c-1', 't-1'), // 800 × 0.15e-6 + 200 × 0.075e-6 + 100 × 0.6e-6 = 0.000195
      makeEvent({
        tenant_id: t.tenant.id,
        occurred_at: iso(day + 6 * HOUR + 30 * 60_000),
        event_name: 'voice.turn_completed', // 2.4 s × 0.0001 + 86 × 0.00003 = 0.00282
      }),
      llm(9, 'acme-1', 'c-1', 't-2'), // no price: missing
      llm(18, 'gpt-4o-mini', 'c-2', 't-1'), // 800 × 0.30e-6 + 0.000015 + 0.00006 = 0.000315
    ];
    const res = await t.post(BATCH, { events }, t.tenant.ingest);
    expect([res.status, res.json.accepted]).toEqual([202, 4]);
    await settled(t);
  }, 60_000);
  afterAll(async () => {
    await t.close();
  });

  it('splits a day exactly at a mid-day price change, and reports a missing price instead of 0', async () => {
    const res = await cost({ group_by: 'model' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      currency: 'USD',
      total: { amount: '0.00333', micros: '3330', lines: 9, missing_lines: 1 },
      missing: [{ model: 'acme-1', provider: 'acme', unit: 'input_token', lines: 1, quantity: '50' }],
      groups: [
        { key: 'flash-v2', amount: '0.00258', micros: '2580', lines: 1, missing_lines: 0 },
        { key: 'gpt-4o-mini', amount: '0.00051', micros: '510', lines: 6, missing_lines: 0 },
        { key: 'nova-3', amount: '0.00024', micros: '240', lines: 1, missing_lines: 0 },
        { key: 'acme-1', amount: '0', micros: '0', lines: 1, missing_lines: 1 },
      ],
    });
    const morning = await cost({ to: iso(day + 12 * HOUR), group_by: 'unit' });
    expect(morning.json.total).toEqual({ amount: '0.003015', micros: '3015', lines: 6, missing_lines: 1 });
    const evening = await cost({ from: iso(day + 12 * HOUR) });
    expect(evening.json.total).toEqual({ amount: '0.000315', micros: '315', lines: 3, missing_lines: 0 });

    // hourly: the 06:00 bucket costs 195 + 2820 micro-units, 09:00 is unknown (not 0), 18:00 is 315
    const hours = await series('ai.cost.total', '1h');
    const at = (h: number) => hours.find((p) => p.t === iso(day + h * HOUR))!;
    expect([at(6).value, at(6).count]).toEqual([3015, 5]);
    expect([at(9).value, at(9).count]).toEqual([null, 1]);
    expect([at(18).value, at(18).count]).toEqual([315, 3]);
    expect(at(3)).toEqual({ t: iso(day + 3 * HOUR), value: 0, count: 0 });
    // per conversation at 18:00: one conversation (c-2)
    const perConversation = await series('ai.cost.per_conversation', '1h');
    expect(perConversation.find((p) => p.t === iso(day + 18 * HOUR))!.value).toBe(315);
    expect((await series('ai.cost.total', '1d'))[0]).toEqual({ t: iso(day), value: null, count: 9 });
  });

  it('re-prices a past range under a book valid from the past: recomputed totals, and a second run changes nothing', async () => {
    const v3 = await publish({
      currency: 'USD',
      valid_from: iso(day + 1 * HOUR),
      prices: [
        { model: 'gpt-4o-mini', unit: 'input_token', price: '1', per: 1_000_000 },
        { model: 'gpt-4o-mini', unit: 'cache_read_token', price: '0.075', per: 1_000_000 },
        { provider: 'openai', unit: 'output_token', price: '0.60', per: 1_000_000 },
        { model: 'acme-1', unit: 'input_token', price: '2', per: 1_000_000 },
        ...voice,
      ],
    });
    expect([v3.status, v3.json.version, v3.json.reprice_needed]).toEqual([201, 3, true]);
    // costs were computed when folded: nothing changes until the range is re-priced
    expect((await cost()).json.total.amount).toBe('0.00333');

    const reprice = await t.post(BOOKS + '/reprice', { from: iso(day), to: iso(day + DAY) }, t.tenant.admin);
    // 06:00's three LLM lines and two voice lines move to v3 (one cost changes), 09:00's line gets a price; 18:00 stays on v2
    expect([reprice.status, reprice.json]).toEqual([200, { lines: 9, changed: 6, missing: 0 }]);
    const after = await cost({ group_by: 'conversation' });
    // 06:00: 800 × 1e-6 + 0.000015 + 0.00006 = 0.000875; 09:00: 50 × 2e-6 = 0.0001
    expect(after.json.total).toEqual({ amount: '0.00411', micros: '4110', lines: 9, missing_lines: 0 });
    expect(after.json.missing).toEqual([]);
    expect(after.json.groups).toEqual([
      { key: 'conv-7', amount: '0.00282', micros: '2820', lines: 2, missing_lines: 0 },
      { key: 'c-1', amount: '0.000975', micros: '975', lines: 4, missing_lines: 0 },
      { key: 'c-2', amount: '0.000315', micros: '315', lines: 3, missing_lines: 0 },
    ]);
    expect((await series('ai.cost.total', '1d'))[0]).toEqual({ t: iso(day), value: 4110, count: 9 });

    const again = await t.post(BOOKS + '/reprice', { from: iso(day), to: iso(day + DAY) }, t.tenant.admin);
    expect(again.json).toEqual({ lines: 9, changed: 0, missing: 0 });
    const stored = await t.db.query(
      `SELECT book_version, count(*)::int AS n FROM analytics_usage_lines WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1`,
      [t.tenant.id],
    );
    expect(stored.rows).toEqual([
      { book_version: 2, n: 3 },
      { book_version: 3, n: 6 },
    ]);
  });

  it('lists the versions and refuses bad books with a pointer, another currency with 422', async () => {
    const list = await t.get(BOOKS, t.tenant.admin);
    expect(list.status).toBe(200);
    expect(list.json.map((b: { version: number }) => b.version)).toEqual([1, 2, 3]);
    expect(list.json[0].prices).toContainEqual({
      match: 'model',
      name: 'gpt-4o-mini',
      unit: 'input_token',
      unit_price: '0.00000015',
    });
    const bad = await publish({
      currency: 'USD',
      valid_from: iso(day),
      prices: [{ model: 'm', provider: 'p', unit: 'input_token', price: '1' }],
    });
    expect([bad.status, bad.json.type, bad.json.errors]).toEqual([
      400,
      'https://analytics.dev/problems/invalid-price-book',
      [{ pointer: '/prices/0', keyword: 'oneOf', message: 'prices/0 must name exactly one of model and provider' }],
    ]);
    const float = await publish({
      currency: 'USD',
      valid_from: iso(day),
      prices: [{ model: 'm', unit: 'input_token', price: 0.1 }],
    });
    expect([float.status, float.json.errors[0].pointer]).toEqual([400, '/prices/0/price']);
    const euro = await publish({
      currency: 'EUR',
      valid_from: iso(day),
      prices: [{ model: 'm', unit: 'input_token', price: '1' }],
    });
    expect([euro.status, euro.json.type]).toEqual([422, 'https://analytics.dev/problems/price-book-currency']);
    expect((await t.get(BOOKS, t.tenant.report)).status).toBe(403);
    expect((await t.get(BOOKS, t.other.admin)).json).toEqual([]);
  });

  it('shows a conversation turn by turn: stages, outcome, calls, tokens and cost, from the stored events', async () => {
    const q = `tenantId=${t.tenant.id}&from=${iso(day)}&to=${iso(day + DAY)}`;
    const c1 = await t.get(`${REPORTS}/conversations/c-1?${q}`, t.tenant.report);
    expect(c1.status).toBe(200);
    const money = (amount: string, micros: string, lines: number) => ({ amount, micros, lines, missing_lines: 0 });
    expect(c1.json).toMatchObject({
      conversation_id: 'c-1',
      currency: 'USD',
      cost: money('0.000975', '975', 4),
      turns: [
        {
          turn_id: 't-1',
          stages: {},
          llm_calls: [
            {
              at: iso(day + 6 * HOUR),
              model: 'gpt-4o-mini',
              provider: 'openai',
              tokens: { input: 1000, output: 100, cache_read: 200 },
            },
          ],
          tool_calls: [],
          cost: money('0.000875', '875', 3),
        },
        { turn_id: 't-2', llm_calls: [{ model: 'acme-1', tokens: { input: 50 } }], cost: money('0.0001', '100', 1) },
      ],
    });
    const c7 = await t.get(`${REPORTS}/conversations/conv-7?${q}`, t.tenant.report);
    expect(c7.json.turns).toEqual([
      {
        turn_id: 't-1',
        index: 0,
        ended_at: iso(day + 6 * HOUR + 30 * 60_000),
        end_reason: 'completed',
        stages: { endpoint: 180, stt_final: 120, llm_ttft: 310, tool: 150, tts_ttfb: 95, playout: 40, e2e: 790 },
        llm_calls: [],
        tool_calls: [],
        stt_audio_ms: 2400,
        tts_characters: 86,
        cost: money('0.00282', '2820', 2),
      },
    ]);
    const none = await t.get(`${REPORTS}/conversations/nobody?${q}`, t.tenant.report);
    expect([none.status, none.json.turns, none.json.cost]).toEqual([200, [], money('0', '0', 0)]);
    // another tenant's key sees nothing of it
    const other = await t.get(`${REPORTS}/conversations/c-1?${q}`, t.other.report);
    expect(other.status).toBe(403);
    const bad = await t.get(
      `${REPORTS}/conversations/c-1?tenantId=${t.tenant.id}&from=soon&to=${iso(day)}`,
      t.tenant.report,
    );
    expect([bad.status, bad.json.errors[0].pointer]).toEqual([400, '/from']);
  });
});
