/**
 * The metric catalog: one entry per metric, as data. Rollups are folded from it and reports read
 * it; docs/metrics.md is generated from it. A percentile metric answers any quantile
 * (`<name>.p50`, `.p75`, `.p90`, `.p95`, `.p99`, `.p99.9`).
 */
export type Aggregation = 'count' | 'sum' | 'avg' | 'rate' | 'distinct_rate' | 'percentile';

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
