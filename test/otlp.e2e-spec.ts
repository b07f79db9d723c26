import { ExportResultCode } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { otlpSiteId } from '../src/modules/otlp/otlp-ids';
import { settled } from './support/queue';
import { createTestEnv, request, TestEnv } from './support/test-env';
import { seedTenant } from './support/tenants';
import { Encoding, exportWithSdk, finished, LogSpec, SpanNode, spanRecorder } from './support/otel';

/**
 * OTLP/HTTP ingestion with the OpenTelemetry JS SDK as the client (its TracerProvider,
 * LoggerProvider and OTLP exporters, JSON and protobuf), against the real api, worker, Postgres
 * and Redis: spans and log records end as stored events with the mapped attributes, a resent batch
 * stores nothing twice, a partly invalid batch answers partial_success with its count, and the
 * built-in metrics over OTLP data are what a brute force over the emitted spans says.
 */
describe('OTLP ingestion', () => {
  let t: TestEnv;
  const rows = async (tenant: string) =>
    (
      await t.db.query(
        `SELECT event_id, event_name, attributes, occurred_at, site_id, session_id, source
           FROM analytics_events_raw WHERE tenant_id = $1 ORDER BY occurred_at, event_name`,
        [tenant],
      )
    ).rows as {
      event_id: string;
      event_name: string;
      attributes: Record<string, unknown>;
      occurred_at: Date;
      site_id: string | null;
      session_id: string | null;
      source: string;
    }[];
  const countFor = async (tenant: string) =>
    (await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw WHERE tenant_id = $1', [tenant])).rows[0]
      .n as number;

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** An agent run: two tool calls (one failing), a model call, and a span no rule maps. */
  const agentRun = (b: number): SpanNode => ({
    name: 'invoke_agent trip_planner',
    start: b,
    end: b + 3000,
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.conversation.id': 'conv-1' },
    children: [
      {
        name: 'execute_tool search_flights',
        start: b + 100,
        end: b + 400,
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': 'search_flights',
          'gen_ai.tool.call.id': 'call-1',
          'gen_ai.conversation.id': 'conv-1',
        },
      },
      {
        name: 'execute_tool book_flight',
        start: b + 500,
        end: b + 1300,
        error: true,
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.call.id': 'call-2',
          'error.type': 'timeout',
          'gen_ai.tool.call.arguments': '{"seat":"12A"}',
        },
      },
      {
        name: 'chat gpt-4o-mini',
        start: b + 1400,
        end: b + 2330,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
          'gen_ai.provider.name': 'openai',
          'gen_ai.usage.input_tokens': 812,
          'gen_ai.usage.output_tokens': 64,
          'gen_ai.usage.cache_read.input_tokens': 512,
          'gen_ai.usage.reasoning.output_tokens': 16,
          'gen_ai.server.time_to_first_token': 0.31,
          'gen_ai.response.finish_reasons': ['stop'],
          'gen_ai.input.messages': '[{"role":"user","parts":[{"type":"text","content":"fly me to Lisbon"}]}]',
        },
      },
      { name: 'GET /health', start: b + 10, end: b + 20, attributes: { 'http.method': 'GET' } },
    ],
  });

  /** A Pipecat voice turn: STT, LLM and two TTS spans under a turn span. */
  const pipecatTurn = (b: number): SpanNode => ({
    name: 'turn',
    key: 'turn',
    start: b,
    end: b + 5000,
    attributes: { 'conversation.id': 'conv-v', 'turn.number': 1 },
    children: [
      {
        name: 'stt',
        start: b + 100,
        end: b + 900,
        attributes: { 'metrics.ttfb': 0.12, is_final: true, transcript: 'hello' },
      },
      {
        name: 'llm',
        start: b + 950,
        end: b + 1600,
        attributes: {
          'gen_ai.system': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.operation.name': 'chat',
          'gen_ai.usage.input_tokens': 100,
          'gen_ai.usage.output_tokens': 20,
          'metrics.ttfb': 0.25,
        },
      },
      { name: 'tts', start: b + 1600, end: b + 2500, attributes: { 'metrics.ttfb': 0.08, text: 'Hi there' } },
      { name: 'tts', start: b + 2600, end: b + 3000, attributes: { 'metrics.ttfb': 0.05 } },
    ],
  });

  const SUCCESS = { code: ExportResultCode.SUCCESS };

  it('spans from the SDK, JSON and protobuf (gzip) exporters, end as events with the mapped attributes; a resent batch stores nothing twice', async () => {
    const b = Date.now() - 120_000;
    const job = { url: t.url, key: t.tenant.ingest };
    // Each batch twice: the second send is an exporter's retry of the same batch.
    const json = await exportWithSdk({ ...job, encoding: 'json', traces: [[agentRun(b)]], sends: 2 });
    const proto = await exportWithSdk({
      ...job,
      encoding: 'protobuf',
      longPath: true,
      traces: [[pipecatTurn(b + 10_000)]],
      sends: 2,
    });
    expect(json.results).toEqual([SUCCESS, SUCCESS]);
    expect(proto.results).toEqual([SUCCESS, SUCCESS]);
    const turnId = proto.spanIds.turn;
    await settled(t);
    expect(await countFor(t.tenant.id)).toBe(10);

    const stored = await rows(t.tenant.id);
    expect(new Set(stored.map((r) => r.event_id)).size).toBe(10);
    const site = otlpSiteId(t.tenant.id, 'voice-bot', 'test');
    expect(stored.every((r) => r.source === 'server' && r.site_id === site)).toBe(true);
    const at = (ms: number) => new Date(ms).toISOString();
    expect(stored.map((r) => [r.event_name, r.occurred_at.toISOString(), r.attributes])).toEqual([
      [
        'ai.tool_call_started',
        at(b + 100),
        { 'gen_ai.tool.name': 'search_flights', 'gen_ai.tool.call.id': 'call-1', 'gen_ai.conversation.id': 'conv-1' },
      ],
      [
        'ai.tool_call_completed',
        at(b + 400),
        {
          'gen_ai.tool.name': 'search_flights',
          'gen_ai.tool.call.id': 'call-1',
          'ai.tool.duration_ms': 300,
          'ai.tool.success': true,
          'gen_ai.conversation.id': 'conv-1',
        },
      ],
      ['ai.tool_call_started', at(b + 500), { 'gen_ai.tool.name': 'book_flight', 'gen_ai.tool.call.id': 'call-2' }],
      [
        'ai.tool_call_completed',
        at(b + 1300),
        {
          'gen_ai.tool.name': 'book_flight',
          'gen_ai.tool.call.id': 'call-2',
          'ai.tool.duration_ms': 800,
          'ai.tool.success': false,
          'error.type': 'timeout',
        },
      ],
      [
        'ai.llm_call_completed',
        at(b + 2330),
        {
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
          'gen_ai.provider.name': 'openai',
          'gen_ai.operation.name': 'chat',
          'gen_ai.usage.input_tokens': 812,
          'gen_ai.usage.output_tokens': 64,
          'gen_ai.usage.cache_read.input_tokens': 512,
          'gen_ai.usage.reasoning.output_tokens': 16,
          'ai.llm.duration_ms': 930,
          'ai.llm.time_to_first_token_ms': 310,
          'gen_ai.response.finish_reasons': ['stop'],
        },
      ],
      [
        'ai.tool_chain_completed',
        at(b + 3000),
        {
          'ai.tool_chain.length': 2,
          'ai.tool_chain.success': true,
          'ai.tool_chain.duration_ms': 3000,
          'gen_ai.conversation.id': 'conv-1',
        },
      ],
      ['voice.turn_started', at(b + 10_000), { 'voice.session_id': 'conv-v', 'voice.turn_id': turnId }],
      [
        'voice.asr_partial',
        at(b + 10_900),
        { 'voice.turn_id': turnId, 'voice.asr_latency_ms': 120, 'voice.asr_is_final': true },
      ],
      [
        'ai.llm_call_completed',
        at(b + 11_600),
        {
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.provider.name': 'openai',
          'gen_ai.operation.name': 'chat',
          'gen_ai.usage.input_tokens': 100,
          'gen_ai.usage.output_tokens': 20,
          'ai.llm.duration_ms': 650,
          'ai.llm.time_to_first_token_ms': 250,
          'voice.turn_id': turnId,
        },
      ],
      // TTS starts 700 ms after the user's speech ended (the STT span's end), its first byte 80 ms later.
      ['voice.first_response', at(b + 11_600), { 'voice.turn_id': turnId, 'voice.first_response_ms': 780 }],
    ]);
  });

  it('a partly invalid batch answers partial_success with the count of rejected spans, in both encodings', async () => {
    const rec = spanRecorder();
    const b = Date.now() - 60_000;
    for (let i = 0; i < 2; i++) {
      finished(rec.tracer, {
        name: `execute_tool lookup_${i}`,
        start: b + i * 1000,
        end: b + i * 1000 + 50,
        attributes: { 'gen_ai.operation.name': 'execute_tool' },
      });
    }
    // No model named: ai.llm_call_completed requires gen_ai.request.model.
    finished(rec.tracer, { name: 'chat', start: b, end: b + 10, attributes: { 'gen_ai.operation.name': 'chat' } });
    finished(rec.tracer, { name: 'chat', start: b, end: b + 20, attributes: { 'gen_ai.operation.name': 'chat' } });
    finished(rec.tracer, { name: 'db.query', start: b, end: b + 5 });
    const spans: ReadableSpan[] = rec.spans();
    const before = await countFor(t.other.id);

    const proto = await request(`${t.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${t.other.ingest}` },
      body: Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!),
    });
    expect(proto.status).toBe(200);
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');

    const json = await request(`${t.url}/api/v1/analytics/otlp/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.other.ingest}` },
      body: Buffer.from(JsonTraceSerializer.serializeRequest(spans)!),
    });
    expect(json.status).toBe(200);
    expect(json.json.partialSuccess.rejectedSpans).toBe(2);
    expect(json.json.partialSuccess.errorMessage).toMatch(
      /^2 spans rejected \(their events failed validation; sending them again will not help\): span "chat" \(span id [0-9a-f]{16}\): ai\.llm_call_completed: \/attributes\/gen_ai\.request\.model is required; span "chat"/,
    );
    expect(json.json.partialSuccess.errorMessage).toContain('1 span mapped to no event type and were skipped');
    await settled(t);
    // The two tool calls, started and completed, once though sent twice.
    expect((await countFor(t.other.id)) - before).toBe(4);
    await rec.close();
  });

  it('answers the protobuf partial success as ExportTraceServiceResponse bytes', async () => {
    const rec = spanRecorder();
    const b = Date.now() - 30_000;
    finished(rec.tracer, { name: 'chat', start: b, end: b + 10, attributes: { 'gen_ai.operation.name': 'chat' } });
    const res = await fetch(`${t.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${t.other.ingest}` },
      body: Buffer.from(ProtobufTraceSerializer.serializeRequest(rec.spans())!),
    });
    expect(res.status).toBe(200);
    const answer = ProtobufTraceSerializer.deserializeResponse(new Uint8Array(await res.arrayBuffer()));
    expect(Number(answer.partialSuccess?.rejectedSpans)).toBe(1);
    expect(answer.partialSuccess?.errorMessage).toMatch(/^1 span rejected/);
    await rec.close();
  });

  it('log records from the SDK whose event name is an event type become that event; others are skipped; a resend is a duplicate', async () => {
    const now = Date.now() - 10_000;
    const records: LogSpec[] = [
      {
        eventName: 'voice.barge_in',
        timestamp: now,
        attributes: { 'voice.turn_id': 't-9', 'voice.barge_in_ms': 1800 },
        body: 'the user said: stop',
      },
      {
        timestamp: now + 1,
        attributes: {
          'event.name': 'kb.search',
          'kb.search_id': 's-1',
          'kb.query': 'pricing',
          'kb.results_count': 3,
          'kb.latency_ms': 40,
          'gen_ai.input.messages': 'dropped',
        },
      },
      { timestamp: now + 2, body: 'a plain log line' },
      { eventName: 'app.not_a_type', timestamp: now + 3, attributes: { x: 1 } },
    ];
    const tenant = t.operator;
    for (const encoding of ['json', 'protobuf'] as Encoding[]) {
      const sent = await exportWithSdk({ url: t.url, key: tenant.ingest, encoding, logs: [records], sends: 2 });
      expect(sent.results).toEqual([SUCCESS, SUCCESS]);
    }
    await settled(t);
    const stored = await rows(tenant.id);
    expect(stored.map((r) => [r.event_name, r.occurred_at.toISOString(), r.attributes])).toEqual([
      ['voice.barge_in', new Date(now).toISOString(), { 'voice.turn_id': 't-9', 'voice.barge_in_ms': 1800 }],
      [
        'kb.search',
        new Date(now + 1).toISOString(),
        { 'kb.search_id': 's-1', 'kb.query': 'pricing', 'kb.results_count': 3, 'kb.latency_ms': 40 },
      ],
    ]);
  });

  it('the built-in metrics over OTLP spans are what a brute force over the emitted spans says', async () => {
    const tenant = await seedTenant(t.db, '7d1e5c3a-9b2f-4e6d-8a1c-3f5b7d9e1a20', { name: 'otlp-metrics' });
    const b = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
    const roots: SpanNode[] = [];
    const tools: boolean[] = [];
    const firstResponse: number[] = [];
    const llm: { ttft: number; duration: number; input: number; output: number }[] = [];
    for (let i = 0; i < 20; i++) {
      const ok = i % 3 !== 0;
      tools.push(ok);
      roots.push({
        name: `execute_tool tool_${i % 4}`,
        start: b + i * 10_000,
        end: b + i * 10_000 + 50 + i * 7,
        error: !ok,
        attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.call.id': `c-${i}` },
      });
    }
    for (let i = 0; i < 12; i++) {
      const at = b + 300_000 + i * 10_000;
      const sttEnd = at + 400 + i * 13;
      const ttsStart = sttEnd + 200 + ((i * 37) % 300);
      const ttfb = 40 + ((i * 11) % 90);
      firstResponse.push(ttsStart + ttfb - sttEnd);
      const duration = 300 + ((i * 53) % 700);
      const ttft = 80 + ((i * 29) % 400);
      llm.push({ ttft, duration, input: 100 + i, output: 10 + i });
      roots.push({
        name: 'turn',
        start: at,
        end: at + 5000,
        children: [
          { name: 'stt', start: at + 50, end: sttEnd, attributes: { 'metrics.ttfb': 0.1 } },
          {
            name: 'llm',
            start: sttEnd + 10,
            end: sttEnd + 10 + duration,
            attributes: {
              'gen_ai.request.model': 'gpt-4o',
              'gen_ai.usage.input_tokens': 100 + i,
              'gen_ai.usage.output_tokens': 10 + i,
              'metrics.ttfb': ttft / 1000,
            },
          },
          { name: 'tts', start: ttsStart, end: ttsStart + 800, attributes: { 'metrics.ttfb': ttfb / 1000 } },
        ],
      });
    }
    const sent = await exportWithSdk({ url: t.url, key: tenant.ingest, encoding: 'protobuf', traces: [roots] });
    expect(sent.results).toEqual([SUCCESS]);
    await settled(t);
    const res = await t.post(
      '/api/v1/analytics/reports/summary',
      {
        tenantId: tenant.id,
        metrics: [
          'ai.tool_calls.success_rate',
          'voice.first_response_ms.p95',
          'ai.llm_calls.count',
          'ai.llm.time_to_first_token_ms.p95',
          'ai.llm.duration_ms.p95',
          'ai.llm.input_tokens.sum',
          'ai.llm.output_tokens.sum',
        ],
        from: new Date(b).toISOString(),
        to: new Date(b + 3_600_000).toISOString(),
      },
      tenant.report,
    );
    expect(res.status).toBe(200);
    const value = (m: string) => res.json.metrics[m].value as number;
    const p95 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.ceil(0.95 * xs.length) - 1];
    const within1pc = (got: number, want: number) => expect(Math.abs(got - want) / want).toBeLessThanOrEqual(0.01);
    expect(value('ai.tool_calls.success_rate')).toBeCloseTo(tools.filter(Boolean).length / tools.length, 10);
    within1pc(value('voice.first_response_ms.p95'), p95(firstResponse));
    expect(value('ai.llm_calls.count')).toBe(llm.length);
    within1pc(value('ai.llm.time_to_first_token_ms.p95'), p95(llm.map((l) => l.ttft)));
    within1pc(value('ai.llm.duration_ms.p95'), p95(llm.map((l) => l.duration)));
    expect(value('ai.llm.input_tokens.sum')).toBe(llm.reduce((n, l) => n + l.input, 0));
    expect(value('ai.llm.output_tokens.sum')).toBe(llm.reduce((n, l) => n + l.output, 0));
  });

  it('refuses a malformed body with 400, an unknown content type with 415, and no key with 401', async () => {
    const post = (body: string | Buffer, type: string, key: string | null = t.tenant.ingest) =>
      request(`${t.url}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': type, ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body,
      });
    const bad = await post(Buffer.from([0x0a, 0xff, 0xff, 0xff]), 'application/x-protobuf');
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toMatch(/^The body is not a protobuf ExportLogsServiceRequest: /);
    const notJson = await post('{"resourceLogs": [', 'application/json');
    expect(notJson.status).toBe(400);
    expect(notJson.json.detail).toMatch(/^The body is not valid JSON/);
    const wrongShape = await post('{"resourceLogs": {"x": 1}}', 'application/json');
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.json.detail).toBe('/resourceLogs must be an array.');
    const badId = await post(
      JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ traceId: 'abc' }] }] }] }),
      'application/json',
    );
    expect(badId.status).toBe(400);
    expect(badId.json.detail).toBe(
      '/resourceLogs/0/scopeLogs/0/logRecords/0/traceId must be 16 bytes (32 hex digits).',
    );
    const text = await post('hello', 'text/plain');
    expect(text.status).toBe(415);
    const anonymous = await post('{}', 'application/json', null);
    expect(anonymous.status).toBe(401);
    const empty = await post('{}', 'application/json');
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({});
  });
});
