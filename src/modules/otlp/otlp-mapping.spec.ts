import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_EVENTS } from '../schema-registry/builtin-events';
import { renderOtlpDoc } from './otlp-doc';
import { mapExport } from './otlp-mapper';
import { SPAN_RULES } from './otlp-mapping';
import { OtlpSpan } from './otlp-request';

const TENANT = '11111111-1111-4111-8111-111111111111';

function span(over: Partial<OtlpSpan>): OtlpSpan {
  return {
    resource: { 'service.name': 'bot' },
    traceId: 'a'.repeat(32),
    spanId: 'b'.repeat(16),
    parentSpanId: '',
    name: 'x',
    kind: 1,
    startNs: 1_700_000_000_000_000_000n,
    endNs: 1_700_000_000_250_000_000n,
    attributes: {},
    statusCode: 0,
    events: [],
    ...over,
  };
}
const map = (spans: OtlpSpan[], keepContent = false) =>
  mapExport(
    { signal: 'traces', encoding: 'json', spans, items: spans.length },
    {
      tenantId: TENANT,
      isEventType: () => true,
      keepContent,
    },
  );

describe('the OTLP mapping table', () => {
  it('docs/otlp.md is exactly what the table generates (run `npm run docs:otlp` after changing it)', () => {
    expect(readFileSync(join(__dirname, '..', '..', '..', 'docs', 'otlp.md'), 'utf8')).toBe(renderOtlpDoc());
  });

  it('emits only built-in event types, and only attributes their schemas declare', () => {
    const types = new Map(BUILTIN_EVENTS.map((t) => [t.name, t]));
    for (const rule of SPAN_RULES) {
      for (const e of rule.emits) {
        const type = types.get(e.event);
        expect(type).toBeDefined();
        for (const a of e.attributes)
          expect([e.event, a.to, Object.keys(type!.attributes.properties).includes(a.to)]).toEqual([
            e.event,
            a.to,
            true,
          ]);
      }
    }
  });

  it('maps a chat span onto ai.llm_call_completed, older OpenLLMetry names included', () => {
    const { events, skipped } = map([
      span({
        name: 'openai.chat',
        attributes: {
          'llm.request.type': 'chat',
          'gen_ai.system': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.prompt_tokens': 10,
          'gen_ai.usage.completion_tokens': 4,
          'gen_ai.response.finish_reasons': 'stop',
          'gen_ai.prompt.0.content': 'my card is 4111 1111 1111 1111',
        },
      }),
    ]);
    expect(skipped).toBe(0);
    expect(events).toEqual([
      expect.objectContaining({
        event_name: 'ai.llm_call_completed',
        occurred_at: '2023-11-14T22:13:20.250Z',
        source: 'server',
        attributes: {
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.provider.name': 'openai',
          'gen_ai.operation.name': 'chat',
          'gen_ai.usage.input_tokens': 10,
          'gen_ai.usage.output_tokens': 4,
          'ai.llm.duration_ms': 250,
          'gen_ai.response.finish_reasons': ['stop'],
        },
      }),
    ]);
  });

  it('keeps content only for a tenant that keeps it, as a string', () => {
    const s = span({
      name: 'llm_request',
      attributes: { 'gen_ai.request.model': 'm', 'lk.chat_ctx': { items: [1] }, 'lk.llm_metrics': '{"ttft":0.2}' },
    });
    expect(map([s]).events[0].attributes).toEqual({
      'gen_ai.request.model': 'm',
      'gen_ai.operation.name': 'chat',
      'ai.llm.duration_ms': 250,
      'ai.llm.time_to_first_token_ms': 200,
    });
    expect((map([s], true).events[0].attributes as Record<string, unknown>)['lk.chat_ctx']).toBe('{"items":[1]}');
  });

  it('counts an agent run without tool calls, and a span no rule matches, as skipped', () => {
    const r = map([
      span({ name: 'invoke_agent helper', spanId: '1'.repeat(16) }),
      span({ name: 'SELECT users', spanId: '2'.repeat(16) }),
    ]);
    expect(r).toMatchObject({ events: [], skipped: 2, items: 2 });
  });

  it('derives the same event id from the same span, and another for another event type or tenant', () => {
    const s = span({ name: 'execute_tool t', attributes: { 'gen_ai.operation.name': 'execute_tool' } });
    const [started, completed] = map([s]).events;
    expect(map([s]).events[0].event_id).toBe(started.event_id);
    expect(completed.event_id).not.toBe(started.event_id);
    expect(completed.attributes).toEqual({
      'gen_ai.tool.name': 't',
      'gen_ai.tool.call.id': 'b'.repeat(16),
      'ai.tool.duration_ms': 250,
      'ai.tool.success': true,
    });
  });
});
