/**
 * What an event used, as priced lines: one per (event, unit) with a quantity above zero. Token
 * kinds are made disjoint, so that each token is priced once: OTel's input_tokens include the
 * cached and audio ones and its output_tokens the reasoning and audio ones, so `input_token` is
 * what remains of the input after cache reads, cache writes and audio, and `output_token` what
 * remains of the output after reasoning and audio. Pure: the fold and the tests share it.
 */
export const PRICE_UNITS = [
  'input_token',
  'output_token',
  'cache_read_token',
  'cache_write_token',
  'reasoning_token',
  'audio_input_token',
  'audio_output_token',
  'stt_second',
  'tts_character',
  'tool_call',
] as const;
export type PriceUnit = (typeof PRICE_UNITS)[number];

/** The fields of a stored event the usage lines are made from. */
export interface UsageSource {
  tenant_id: string;
  event_name: string;
  occurred_at: string;
  site_id: string | null;
  source: string;
  attributes: Record<string, unknown>;
}

export interface UsageLine {
  tenant_id: string;
  occurred_at: string;
  site_id: string | null;
  source: string;
  conversation_id: string | null;
  turn_id: string | null;
  model: string | null;
  provider: string | null;
  unit: PriceUnit;
  /** An exact decimal: tokens, characters and calls are integers, STT seconds have up to 3 decimals. */
  quantity: string;
}

const int = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Milliseconds as exact decimal seconds: 2400 → "2.4", 5 → "0.005". */
export function msAsSeconds(ms: number): string {
  const s = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}`.replace(/\.?0+$/, '');
  return s === '' ? '0' : s;
}

export function usageLines(e: UsageSource): UsageLine[] {
  const a = e.attributes;
  const base = {
    tenant_id: e.tenant_id,
    occurred_at: e.occurred_at,
    site_id: e.site_id,
    source: e.source,
    conversation_id: text(a['gen_ai.conversation.id']),
    turn_id: text(a['voice.turn_id']),
  };
  const out: UsageLine[] = [];
  const add = (model: string | null, provider: string | null, unit: PriceUnit, quantity: number | string) => {
    if (quantity === 0 || quantity === '0') return;
    out.push({ ...base, model, provider, unit, quantity: String(quantity) });
  };
  if (e.event_name === 'ai.llm_call_completed') {
    const model = text(a['gen_ai.request.model']);
    const provider = text(a['gen_ai.provider.name']);
    const cacheRead = int(a['gen_ai.usage.cache_read.input_tokens']);
    const cacheWrite = int(a['gen_ai.usage.cache_creation.input_tokens']);
    const audioIn = int(a['gen_ai.usage.audio.input_tokens']);
    const reasoning = int(a['gen_ai.usage.reasoning.output_tokens']);
    const audioOut = int(a['gen_ai.usage.audio.output_tokens']);
    add(
      model,
      provider,
      'input_token',
      Math.max(0, int(a['gen_ai.usage.input_tokens']) - cacheRead - cacheWrite - audioIn),
    );
    add(model, provider, 'cache_read_token', cacheRead);
    add(model, provider, 'cache_write_token', cacheWrite);
    add(model, provider, 'audio_input_token', audioIn);
    add(model, provider, 'output_token', Math.max(0, int(a['gen_ai.usage.output_tokens']) - reasoning - audioOut));
    add(model, provider, 'reasoning_token', reasoning);
    add(model, provider, 'audio_output_token', audioOut);
  } else if (e.event_name === 'voice.turn_completed') {
    const audioMs = int(a['voice.stt.audio_ms']);
    if (audioMs) add(text(a['voice.stt.model']), text(a['voice.stt.provider']), 'stt_second', msAsSeconds(audioMs));
    add(text(a['voice.tts.model']), text(a['voice.tts.provider']), 'tts_character', int(a['voice.tts.characters']));
  } else if (e.event_name === 'ai.tool_call_completed') {
    add(text(a['gen_ai.tool.name']), null, 'tool_call', 1);
  }
  return out;
}

/**
 * A price per `per` units as the exact price of one unit: "2.50" per 1,000,000 → "0.0000025".
 * Prices have at most 12 decimals and `per` is 1, 1,000 or 1,000,000, so the quotient is exact.
 */
export function unitPrice(price: string, per: number): string {
  const [i, f = ''] = price.split('.');
  const scaled = BigInt(i + f.padEnd(12, '0')) * (1_000_000n / BigInt(per)); // units of 1e-18
  return decimal(scaled, 18);
}

/** An integer of 10^-scale units as a decimal string without trailing zeros. */
export function decimal(v: bigint, scale: number): string {
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const unit = 10n ** BigInt(scale);
  const frac = (abs % unit).toString().padStart(scale, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / unit}${frac ? `.${frac}` : ''}`;
}

/** Postgres numeric text ("0.002032500000") as the same decimal without trailing zeros ("0.0020325"). */
export function trimDecimal(s: string): string {
  if (!s.includes('.')) return s;
  const t = s.replace(/0+$/, '').replace(/\.$/, '');
  return t === '-0' ? '0' : t;
}
