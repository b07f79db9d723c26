/**
 * The metric catalog: one entry per metric, as data. Rollups are folded from it and reports read
 * it; docs/metrics.md is generated from it. A percentile metric answers any quantile
 * (`<name>.p50`, `.p75`, `.p90`, `.p95`, `.p99`, `.p99.9`).
 */
import { TURN_END_REASONS } from '../schema-registry/builtin-events';

export type Aggregation = 'count' | 'sum' | 'avg' | 'rate' | 'distinct_rate' | 'percentile' | 'cost';

/** What a cost metric divides its cost by: nothing, the distinct conversations, or the distinct turns of the bucket. */
export type CostPer = 'total' | 'per_conversation' | 'per_turn';

/** Which events a side of a metric counts: one event type (or every event), optionally filtered. */
export interface EventSelector {
  /** An event name, or '*' for every event of the tenant. */
  event: string;
  /** Only events whose attributes equal these values (all of them). */
  where?: { attribute: string; equals: unknown }[];
  /** Count distinct values of this attribute (or envelope field) instead of events. */
  distinct?: string;
}

export interface MetricDefinition {
  name: string;
  aggregation: Aggregation;
  description: string;
  unit: string;
  /** What is counted, summed or measured (the denominator of a rate). */
  of: EventSelector;
  /** The numeric attribute for sum, avg and percentile. */
  attribute?: string;
  /** The numerator of a rate. */
  numerator?: EventSelector;
  /** For a cost metric: read from the priced usage lines, not folded into rollups. */
  cost?: CostPer;
  /** Quantiles the brief lists; any other is askable too. */
  listed?: string[];
}

export const QUANTILES: Record<string, number> = {
  p50: 0.5,
  p75: 0.75,
  p90: 0.9,
  p95: 0.95,
  p99: 0.99,
  'p99.9': 0.999,
};

/**
 * The turn-latency waterfall: each stage of a voice turn, the `voice.turn_completed` attribute
 * that carries it (with its clock origin) and its percentile metric, in the order a turn runs.
 * The last stage is the end-to-end time the others are compared with.
 */
export const WATERFALL_STAGES = [
  {
    stage: 'endpoint',
    attribute: 'voice.latency.endpoint_ms',
    metric: 'voice.turn.endpoint_ms',
    description: 'end of user speech → endpoint decision.',
  },
  {
    stage: 'stt_final',
    attribute: 'voice.latency.stt_final_ms',
    metric: 'voice.turn.stt_final_ms',
    description: 'end of user speech → final transcript.',
  },
  {
    stage: 'llm_ttft',
    attribute: 'voice.latency.llm_ttft_ms',
    metric: 'voice.turn.llm_ttft_ms',
    description: "model request → the answer's first token.",
  },
  {
    stage: 'tool',
    attribute: 'voice.latency.tool_ms',
    metric: 'voice.turn.tool_ms',
    description: 'tool execution before the first answer token, summed over the calls.',
  },
  {
    stage: 'tts_ttfb',
    attribute: 'voice.latency.tts_ttfb_ms',
    metric: 'voice.turn.tts_ttfb_ms',
    description: 'speech-synthesis request → first audio byte.',
  },
  {
    stage: 'playout',
    attribute: 'voice.latency.playout_ms',
    metric: 'voice.turn.playout_ms',
    description: "first synthesized byte → first audio played on the user's side.",
  },
  {
    stage: 'e2e',
    attribute: 'voice.latency.e2e_ms',
    metric: 'voice.turn.e2e_ms',
    description: 'end of user speech → first audio played (end to end).',
  },
] as const;

export const METRICS: MetricDefinition[] = [
  {
    name: 'voice.first_response_ms',
    aggregation: 'percentile',
    unit: 'ms',
    listed: ['p50', 'p95', 'p99'],
    description: 'Time from end of user speech to the first response audio.',
    of: { event: 'voice.first_response' },
    attribute: 'voice.first_response_ms',
  },
  {
    name: 'voice.barge_in_count',
    aggregation: 'count',
    unit: 'events',
    description: 'How often users interrupted the assistant.',
    of: { event: 'voice.barge_in' },
  },
  {
    name: 'voice.asr_partial_latency_ms',
    aggregation: 'percentile',
    unit: 'ms',
    listed: ['p95'],
    description: 'Latency of partial speech-recognition results.',
    of: { event: 'voice.asr_partial' },
    attribute: 'voice.asr_latency_ms',
  },
  ...WATERFALL_STAGES.map((s): MetricDefinition => ({
    name: s.metric,
    aggregation: 'percentile',
    unit: 'ms',
    listed: ['p50', 'p95', 'p99'],
    description: `Turn-latency stage: ${s.description}`,
    of: { event: 'voice.turn_completed' },
    attribute: s.attribute,
  })),
  {
    name: 'voice.turns.count',
    aggregation: 'count',
    unit: 'turns',
    description: 'Voice turns that ended (voice.turn_completed), whatever their end reason.',
    of: { event: 'voice.turn_completed' },
  },
  ...TURN_END_REASONS.map((reason): MetricDefinition => ({
    name: `voice.turn.${reason}_rate`,
    aggregation: 'rate',
    unit: 'ratio 0..1',
    description: `Share of ended turns whose end reason is ${reason}.`,
    of: { event: 'voice.turn_completed' },
    numerator: { event: 'voice.turn_completed', where: [{ attribute: 'voice.turn.end_reason', equals: reason }] },
  })),
  ...(['user', 'agent'] as const).map((by): MetricDefinition => ({
    name: `voice.barge_in.by_${by}.count`,
    aggregation: 'count',
    unit: 'turns',
    description: `Turns in which the ${by} barged in (voice.barge_in.by = ${by}).`,
    of: { event: 'voice.turn_completed', where: [{ attribute: 'voice.barge_in.by', equals: by }] },
  })),
  {
    name: 'voice.barge_in.yield_ms',
    aggregation: 'percentile',
    unit: 'ms',
    listed: ['p50', 'p95', 'p99'],
    description: "Time to yield after a barge-in: from its detection to the interrupted side's audio stopping.",
    of: { event: 'voice.turn_completed' },
    attribute: 'voice.barge_in.yield_ms',
  },
  {
    name: 'voice.barge_in.false_interruption_rate',
    aggregation: 'rate',
    unit: 'ratio 0..1',
    description:
      'Share of user barge-ins the agent resumed from (voice.barge_in.resumed = true): interruptions that were not.',
    of: { event: 'voice.turn_completed', where: [{ attribute: 'voice.barge_in.by', equals: 'user' }] },
    numerator: {
      event: 'voice.turn_completed',
      where: [
        { attribute: 'voice.barge_in.by', equals: 'user' },
        { attribute: 'voice.barge_in.resumed', equals: true },
      ],
    },
  },
  {
    name: 'voice.stt.audio_ms.sum',
    aggregation: 'sum',
    unit: 'ms',
    description: 'Audio sent to speech recognition (voice.stt.audio_ms), the usage STT is priced by.',
    of: { event: 'voice.turn_completed' },
    attribute: 'voice.stt.audio_ms',
  },
  {
    name: 'voice.tts.characters.sum',
    aggregation: 'sum',
    unit: 'characters',
    description: 'Characters sent to speech synthesis (voice.tts.characters), the usage TTS is priced by.',
    of: { event: 'voice.turn_completed' },
    attribute: 'voice.tts.characters',
  },
  {
    name: 'ai.tool_calls.count',
    aggregation: 'count',
    unit: 'calls',
    description: 'Tool calls that finished (successfully or not).',
    of: { event: 'ai.tool_call_completed' },
  },
  {
    name: 'ai.tool_calls.success_rate',
    aggregation: 'rate',
    unit: 'ratio 0..1',
    description: 'Share of finished tool calls that succeeded.',
    of: { event: 'ai.tool_call_completed' },
    numerator: { event: 'ai.tool_call_completed', where: [{ attribute: 'ai.tool.success', equals: true }] },
  },
  {
    name: 'ai.navigation_optimism_rate',
    aggregation: 'rate',
    unit: 'ratio 0..1',
    description:
      'Share of optimistic navigations (the UI moved before the tool confirmed) whose tool call then succeeded.',
    of: { event: 'ai.tool_call_completed', where: [{ attribute: 'ai.navigation.optimistic', equals: true }] },
    numerator: {
      event: 'ai.tool_call_completed',
      where: [
        { attribute: 'ai.navigation.optimistic', equals: true },
        { attribute: 'ai.tool.success', equals: true },
      ],
    },
  },
  {
    name: 'ai.tool_chain_length.avg',
    aggregation: 'avg',
    unit: 'calls',
    description: 'Average number of tool calls per completed chain.',
    of: { event: 'ai.tool_chain_completed' },
    attribute: 'ai.tool_chain.length',
  },
  {
    name: 'ai.llm_calls.count',
    aggregation: 'count',
    unit: 'calls',
    description: 'Model calls completed.',
    of: { event: 'ai.llm_call_completed' },
  },
  {
    name: 'ai.llm.time_to_first_token_ms',
    aggregation: 'percentile',
    unit: 'ms',
    listed: ['p50', 'p95', 'p99'],
    description: 'Time from a model request to the first chunk of its answer.',
    of: { event: 'ai.llm_call_completed' },
    attribute: 'ai.llm.time_to_first_token_ms',
  },
  {
    name: 'ai.llm.duration_ms',
    aggregation: 'percentile',
    unit: 'ms',
    listed: ['p50', 'p95'],
    description: 'Time from a model request to the last chunk of its answer.',
    of: { event: 'ai.llm_call_completed' },
    attribute: 'ai.llm.duration_ms',
  },
  {
    name: 'ai.llm.input_tokens.sum',
    aggregation: 'sum',
    unit: 'tokens',
    description: 'Input tokens of completed model calls.',
    of: { event: 'ai.llm_call_completed' },
    attribute: 'gen_ai.usage.input_tokens',
  },
  {
    name: 'ai.llm.output_tokens.sum',
    aggregation: 'sum',
    unit: 'tokens',
    description: 'Output tokens of completed model calls.',
    of: { event: 'ai.llm_call_completed' },
    attribute: 'gen_ai.usage.output_tokens',
  },
  ...(
    [
      ['cache_read_tokens', 'gen_ai.usage.cache_read.input_tokens', 'Input tokens served from the provider cache'],
      ['cache_write_tokens', 'gen_ai.usage.cache_creation.input_tokens', 'Input tokens written to the provider cache'],
      ['reasoning_tokens', 'gen_ai.usage.reasoning.output_tokens', 'Output tokens spent on reasoning'],
      ['audio_input_tokens', 'gen_ai.usage.audio.input_tokens', 'Audio input tokens'],
      ['audio_output_tokens', 'gen_ai.usage.audio.output_tokens', 'Audio output tokens'],
    ] as const
  ).map(([kind, attribute, what]): MetricDefinition => ({
    name: `ai.llm.${kind}.sum`,
    aggregation: 'sum',
    unit: 'tokens',
    description: `${what} of completed model calls.`,
    of: { event: 'ai.llm_call_completed' },
    attribute,
  })),
  {
    name: 'ai.cost.total',
    aggregation: 'cost',
    cost: 'total',
    unit: 'micro-units of the price-book currency',
    description:
      "Cost of the usage in the bucket (tokens by kind, STT seconds, TTS characters, tool calls), each line priced under the tenant's price book valid at its event's time; null when a line of the bucket has no price (POST /reports/cost lists them).",
    of: { event: '*' },
  },
  {
    name: 'ai.cost.per_conversation',
    aggregation: 'cost',
    cost: 'per_conversation',
    unit: 'micro-units of the price-book currency',
    description:
      'Cost of the usage that names a gen_ai.conversation.id ÷ the distinct conversations it names, per bucket; null when one of those lines has no price.',
    of: { event: '*' },
  },
  {
    name: 'ai.cost.per_turn',
    aggregation: 'cost',
    cost: 'per_turn',
    unit: 'micro-units of the price-book currency',
    description:
      'Cost of the usage that names a voice.turn_id ÷ the distinct turns (conversation and turn id) it names, per bucket; null when one of those lines has no price.',
    of: { event: '*' },
  },
  {
    name: 'kb.hit_rate',
    aggregation: 'distinct_rate',
    unit: 'ratio 0..1',
    description:
      'Share of searches whose results were used: distinct kb.search_id with a kb.hit ÷ distinct kb.search_id searched, per bucket.',
    of: { event: 'kb.search', distinct: 'kb.search_id' },
    numerator: { event: 'kb.hit', distinct: 'kb.search_id' },
  },
  {
    name: 'kb.search_latency_ms',
    aggregation: 'percentile',
    unit: 'ms',
    listed: ['p95'],
    description: 'Knowledge-base search time.',
    of: { event: 'kb.search' },
    attribute: 'kb.latency_ms',
  },
  {
    name: 'kb.relevance_score.avg',
    aggregation: 'avg',
    unit: 'score 0..1',
    description: 'Average relevance of the results used.',
    of: { event: 'kb.hit' },
    attribute: 'kb.relevance_score',
  },
  {
    name: 'commerce.conversion_rate',
    aggregation: 'distinct_rate',
    unit: 'ratio 0..1',
    description: 'Sessions with a checkout ÷ sessions with a view, per bucket.',
    of: { event: 'commerce.view', distinct: 'session_id' },
    numerator: { event: 'commerce.checkout', distinct: 'session_id' },
  },
  {
    name: 'booking.hold_to_confirm_rate',
    aggregation: 'distinct_rate',
    unit: 'ratio 0..1',
    description: 'Holds confirmed ÷ holds placed (distinct booking.hold_id), per bucket.',
    of: { event: 'booking.slot_hold', distinct: 'booking.hold_id' },
    numerator: { event: 'booking.confirmed', distinct: 'booking.hold_id' },
  },
  {
    name: 'system.error_rate',
    aggregation: 'rate',
    unit: 'ratio 0..1',
    description: 'system.error events ÷ all events of the tenant.',
    of: { event: '*' },
    numerator: { event: 'system.error' },
  },
];

export interface ResolvedMetric {
  definition: MetricDefinition;
  quantile?: number;
}

/** Finds a metric by its full name, including any quantile of a percentile metric. */
export function resolveMetric(name: string): ResolvedMetric | null {
  const direct = METRICS.find((m) => m.name === name && m.aggregation !== 'percentile');
  if (direct) return { definition: direct };
  const m = /^(.*)\.(p\d+(?:\.\d+)?)$/.exec(name);
  if (!m || QUANTILES[m[2]] === undefined) return null;
  const base = METRICS.find((x) => x.name === m[1] && x.aggregation === 'percentile');
  return base ? { definition: base, quantile: QUANTILES[m[2]] } : null;
}

/** Every name a client may ask for: listed quantiles first, then the rest. */
export function metricNames(): string[] {
  return METRICS.flatMap((m) =>
    m.aggregation === 'percentile' ? Object.keys(QUANTILES).map((q) => `${m.name}.${q}`) : [m.name],
  );
}
