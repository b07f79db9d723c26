import { METRICS, metricNames, resolveMetric } from './metric-catalog';
import { BUILTIN_EVENTS } from '../schema-registry/builtin-events';

describe('metric catalog', () => {
  it('holds every metric the brief lists', () => {
    const names = metricNames();
    for (const listed of [
      'voice.first_response_ms.p50',
      'voice.first_response_ms.p95',
      'voice.first_response_ms.p99',
      'voice.barge_in_count',
      'voice.asr_partial_latency_ms.p95',
      'ai.tool_calls.count',
      'ai.tool_calls.success_rate',
      'ai.navigation_optimism_rate',
      'ai.tool_chain_length.avg',
      'kb.hit_rate',
      'kb.search_latency_ms.p95',
      'kb.relevance_score.avg',
      'commerce.conversion_rate',
      'booking.hold_to_confirm_rate',
      'system.error_rate',
    ])
      expect(names).toContain(listed);
  });

  it('answers any quantile of a latency metric, and nothing else', () => {
    expect(resolveMetric('voice.first_response_ms.p99.9')).toMatchObject({
      quantile: 0.999,
      definition: { name: 'voice.first_response_ms' },
    });
    expect(resolveMetric('kb.search_latency_ms.p75')?.quantile).toBe(0.75);
    expect(resolveMetric('voice.first_response_ms')).toBeNull();
    expect(resolveMetric('voice.first_response_ms.p42')).toBeNull();
    expect(resolveMetric('ai.tool_calls.count.p50')).toBeNull();
    expect(resolveMetric('ai.tool_calls.count')?.definition.aggregation).toBe('count');
  });

  it('measures optimistic navigations that then succeeded, among optimistic navigations', () => {
    const m = resolveMetric('ai.navigation_optimism_rate')!.definition;
    expect(m.of.where).toEqual([{ attribute: 'ai.navigation.optimistic', equals: true }]);
    expect(m.numerator!.where).toEqual([
      { attribute: 'ai.navigation.optimistic', equals: true },
      { attribute: 'ai.tool.success', equals: true },
    ]);
  });

  it('names only built-in event types and their declared attributes', () => {
    const types = new Map(BUILTIN_EVENTS.map((t) => [t.name, t]));
    for (const m of METRICS) {
      for (const sel of [m.of, m.numerator].filter(Boolean)) {
        if (sel!.event === '*') continue;
        const type = types.get(sel!.event);
        expect([m.name, type?.name]).toEqual([m.name, sel!.event]);
        const declared = new Set([...Object.keys(type!.attributes.properties), 'session_id', 'user_id']);
        for (const w of sel!.where ?? []) expect(declared.has(w.attribute)).toBe(true);
        if (sel!.distinct) expect(declared.has(sel!.distinct)).toBe(true);
      }
      if (m.attribute) expect(Object.keys(types.get(m.of.event)!.attributes.properties)).toContain(m.attribute);
    }
  });
});
