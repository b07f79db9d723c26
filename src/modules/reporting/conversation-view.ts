import { WATERFALL_STAGES } from '../rollups/metric-catalog';
import type { ConversationTurnDto, LlmCallDto, ToolCallDto } from './dto/conversation.dto';
import type { MoneyDto } from './dto/cost.dto';

/** The event types a conversation view is built from: never a transcript, only the named attributes below. */
export const CONVERSATION_EVENTS = ['voice.turn_completed', 'ai.llm_call_completed', 'ai.tool_call_completed'];

const TOKENS: [string, string][] = [
  ['input', 'gen_ai.usage.input_tokens'],
  ['output', 'gen_ai.usage.output_tokens'],
  ['cache_read', 'gen_ai.usage.cache_read.input_tokens'],
  ['cache_write', 'gen_ai.usage.cache_creation.input_tokens'],
  ['reasoning', 'gen_ai.usage.reasoning.output_tokens'],
  ['audio_input', 'gen_ai.usage.audio.input_tokens'],
  ['audio_output', 'gen_ai.usage.audio.output_tokens'],
];

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const NO_MONEY: MoneyDto = { amount: '0', micros: '0', lines: 0, missing_lines: 0 };

/**
 * A conversation's turns from its stored events (already sanitized), in order: each with its stage
 * timings, outcome, model and tool calls, speech usage and cost (`costOf(turn)`).
 */
export function conversationTurns(
  events: { event_name: string; occurred_at: Date; attributes: Record<string, unknown> }[],
  costOf: (turnId: string | null) => MoneyDto,
): ConversationTurnDto[] {
  const turns = new Map<string | null, ConversationTurnDto & { first: number }>();
  const turnOf = (id: string | null, at: number) => {
    let t = turns.get(id);
    if (!t) turns.set(id, (t = { turn_id: id, stages: {}, llm_calls: [], tool_calls: [], cost: NO_MONEY, first: at }));
    return t;
  };
  for (const e of events) {
    const a = e.attributes;
    const at = e.occurred_at.getTime();
    const t = turnOf(str(a['voice.turn_id']) ?? null, at);
    if (e.event_name === 'voice.turn_completed') {
      t.ended_at = e.occurred_at.toISOString();
      t.end_reason = str(a['voice.turn.end_reason']);
      if (num(a['voice.turn.index']) !== undefined) t.index = num(a['voice.turn.index']);
      for (const s of WATERFALL_STAGES) {
        const v = num(a[s.attribute]);
        if (v !== undefined) t.stages[s.stage] = v;
      }
      if (str(a['voice.barge_in.by']) !== undefined)
        t.barge_in = {
          by: str(a['voice.barge_in.by']) ?? '',
          ...(num(a['voice.barge_in.yield_ms']) !== undefined ? { yield_ms: num(a['voice.barge_in.yield_ms']) } : {}),
          resumed: a['voice.barge_in.resumed'] === true,
        };
      if (num(a['voice.stt.audio_ms']) !== undefined) t.stt_audio_ms = num(a['voice.stt.audio_ms']);
      if (num(a['voice.tts.characters']) !== undefined) t.tts_characters = num(a['voice.tts.characters']);
    } else if (e.event_name === 'ai.llm_call_completed') {
      const call: LlmCallDto = {
        at: e.occurred_at.toISOString(),
        model: str(a['gen_ai.request.model']) ?? null,
        provider: str(a['gen_ai.provider.name']) ?? null,
        tokens: Object.fromEntries(
          TOKENS.flatMap(([k, attr]): [string, number][] => (num(a[attr]) !== undefined ? [[k, num(a[attr])!]] : [])),
        ),
      };
      if (num(a['ai.llm.time_to_first_token_ms']) !== undefined)
        call.time_to_first_token_ms = num(a['ai.llm.time_to_first_token_ms']);
      if (num(a['ai.llm.duration_ms']) !== undefined) call.duration_ms = num(a['ai.llm.duration_ms']);
      t.llm_calls.push(call);
    } else {
      const call: ToolCallDto = {
        at: e.occurred_at.toISOString(),
        name: str(a['gen_ai.tool.name']) ?? '',
        success: typeof a['ai.tool.success'] === 'boolean' ? a['ai.tool.success'] : null,
      };
      if (num(a['ai.tool.duration_ms']) !== undefined) call.duration_ms = num(a['ai.tool.duration_ms']);
      if (str(a['error.type'])) call.error_type = str(a['error.type']);
      t.tool_calls.push(call);
    }
  }
  return [...turns.values()]
    .sort((x, y) => {
      if ((x.turn_id === null) !== (y.turn_id === null)) return x.turn_id === null ? 1 : -1;
      if (x.index !== undefined && y.index !== undefined && x.index !== y.index) return x.index - y.index;
      return x.first - y.first;
    })
    .map(({ first: _first, ...t }) => ({ ...t, cost: costOf(t.turn_id) }));
}
