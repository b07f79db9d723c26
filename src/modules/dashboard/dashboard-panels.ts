/**
 * The dashboard's panels, as data: the page renders each with the renderer of its `kind` (one
 * function per kind in the client script). A panel reads only the public report API: `series`
 * panels POST /reports/timeseries per metric (and /reports/summary for the range's value),
 * `funnel` panels POST /reports/funnel, `waterfall` panels POST /reports/waterfall (each stage's
 * p50 and p95 and its share of the end-to-end time), `live` panels count the events of /reports/live.
 * Adding a panel is adding an entry here (and, for a new kind, its renderer).
 */
export type PanelSpec =
  | { id: string; title: string; kind: 'series'; metrics: string[]; unit: 'ms' | 'count' | 'ratio' | 'number' }
  | { id: string; title: string; kind: 'funnel'; steps: string[]; windowSeconds: number }
  | { id: string; title: string; kind: 'waterfall' }
  | { id: string; title: string; kind: 'live' };

export const DASHBOARD_PANELS: PanelSpec[] = [
  { id: 'live-events', title: 'Live events per second', kind: 'live' },
  {
    id: 'voice-first-response',
    title: 'Voice first response p50 / p95 / p99',
    kind: 'series',
    metrics: ['voice.first_response_ms.p50', 'voice.first_response_ms.p95', 'voice.first_response_ms.p99'],
    unit: 'ms',
  },
  { id: 'voice-turn-waterfall', title: 'Voice turn latency waterfall (p50 / p95)', kind: 'waterfall' },
  { id: 'voice-barge-ins', title: 'Barge-ins', kind: 'series', metrics: ['voice.barge_in_count'], unit: 'count' },
  {
    id: 'voice-asr-partial',
    title: 'ASR partial latency p95',
    kind: 'series',
    metrics: ['voice.asr_partial_latency_ms.p95'],
    unit: 'ms',
  },
  { id: 'ai-tool-calls', title: 'Tool calls', kind: 'series', metrics: ['ai.tool_calls.count'], unit: 'count' },
  {
    id: 'ai-tool-success',
    title: 'Tool call success rate',
    kind: 'series',
    metrics: ['ai.tool_calls.success_rate'],
    unit: 'ratio',
  },
  {
    id: 'ai-tool-chain',
    title: 'Tool chain length (avg)',
    kind: 'series',
    metrics: ['ai.tool_chain_length.avg'],
    unit: 'number',
  },
  { id: 'kb-hit-rate', title: 'KB hit rate', kind: 'series', metrics: ['kb.hit_rate'], unit: 'ratio' },
  {
    id: 'kb-search-latency',
    title: 'KB search latency p95',
    kind: 'series',
    metrics: ['kb.search_latency_ms.p95'],
    unit: 'ms',
  },
  {
    id: 'kb-relevance',
    title: 'KB relevance (avg)',
    kind: 'series',
    metrics: ['kb.relevance_score.avg'],
    unit: 'number',
  },
  {
    id: 'commerce-funnel',
    title: 'Commerce funnel',
    kind: 'funnel',
    steps: ['commerce.view', 'commerce.add_to_cart', 'commerce.checkout'],
    windowSeconds: 86_400,
  },
  {
    id: 'booking-hold-to-confirm',
    title: 'Booking hold → confirm',
    kind: 'series',
    metrics: ['booking.hold_to_confirm_rate'],
    unit: 'ratio',
  },
  { id: 'system-error-rate', title: 'Error rate', kind: 'series', metrics: ['system.error_rate'], unit: 'ratio' },
];
