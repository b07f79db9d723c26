import { msAsSeconds, unitPrice, usageLines, trimDecimal } from './usage-lines';

const event = (event_name: string, attributes: Record<string, unknown>) => ({
  tenant_id: 't',
  event_name,
  occurred_at: '2025-01-15T10:00:00.000Z',
  site_id: null,
  source: 'server',
  attributes,
});

describe('usage lines', () => {
  it('makes token kinds disjoint, so that each token is priced once', () => {
    const lines = usageLines(
      event('ai.llm_call_completed', {
        'gen_ai.request.model': 'm',
        'gen_ai.provider.name': 'p',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.cache_read.input_tokens': 300,
        'gen_ai.usage.cache_creation.input_tokens': 100,
        'gen_ai.usage.audio.input_tokens': 50,
        'gen_ai.usage.output_tokens': 400,
        'gen_ai.usage.reasoning.output_tokens': 250,
        'gen_ai.usage.audio.output_tokens': 0,
        'gen_ai.conversation.id': 'c',
        'voice.turn_id': 't-3',
      }),
    );
    expect(lines.map((l) => [l.unit, l.quantity, l.model, l.provider, l.conversation_id, l.turn_id])).toEqual([
      ['input_token', '550', 'm', 'p', 'c', 't-3'],
      ['cache_read_token', '300', 'm', 'p', 'c', 't-3'],
      ['cache_write_token', '100', 'm', 'p', 'c', 't-3'],
      ['audio_input_token', '50', 'm', 'p', 'c', 't-3'],
      ['output_token', '150', 'm', 'p', 'c', 't-3'],
      ['reasoning_token', '250', 'm', 'p', 'c', 't-3'],
    ]);
  });

  it('prices speech by exact seconds and characters, tool calls by the call, and nothing else', () => {
    const turn = usageLines(
      event('voice.turn_completed', {
        'voice.stt.audio_ms': 2405,
        'voice.stt.provider': 'deepgram',
        'voice.tts.characters': 86,
        'voice.tts.model': 'flash',
      }),
    );
    expect(turn.map((l) => [l.unit, l.quantity, l.model, l.provider])).toEqual([
      ['stt_second', '2.405', null, 'deepgram'],
      ['tts_character', '86', 'flash', null],
    ]);
    expect(usageLines(event('ai.tool_call_completed', { 'gen_ai.tool.name': 'kb.search' }))[0]).toMatchObject({
      unit: 'tool_call',
      quantity: '1',
      model: 'kb.search',
    });
    expect(usageLines(event('kb.search', { 'kb.results_count': 5 }))).toEqual([]);
  });

  it('turns prices per 1, 1,000 or 1,000,000 units into exact unit prices', () => {
    expect(unitPrice('2.50', 1_000_000)).toBe('0.0000025');
    expect(unitPrice('0.000000000001', 1_000_000)).toBe('0.000000000000000001');
    expect(unitPrice('15', 1000)).toBe('0.015');
    expect(unitPrice('0', 1)).toBe('0');
    expect(msAsSeconds(2400)).toBe('2.4');
    expect(msAsSeconds(5)).toBe('0.005');
    expect(msAsSeconds(3000)).toBe('3');
    expect(trimDecimal('0.002032500000')).toBe('0.0020325');
    expect(trimDecimal('12.000')).toBe('12');
  });
});
