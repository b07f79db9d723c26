import { randomUUID } from 'node:crypto';
import { makeEvent } from './events';

export const SEED_SITE = '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31';

/**
 * Events that give every dashboard panel data: voice turns (first response, barge-ins, ASR
 * partials, the completed turn's stage timings), tool calls and chains, KB searches with hits, a commerce funnel per session, booking
 * holds (some confirmed) and errors, spread over the `hours` before `now`, from two sources.
 */
export function dashboardSeed(
  tenantId: string,
  sessions: number,
  now = Date.now(),
  hours = 3,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let s = 0; s < sessions; s++) {
    const session = randomUUID();
    const start = now - Math.floor(((s + 0.5) / sessions) * hours * 3_600_000);
    const source = s % 3 === 0 ? 'web' : 'voice_ws';
    let at = start;
    const ev = (event_name: string, attributes: Record<string, unknown>) => {
      at += 1000;
      out.push(
        makeEvent({
          tenant_id: tenantId,
          session_id: session,
          site_id: SEED_SITE,
          source,
          event_name,
          occurred_at: new Date(Math.min(at, now - 1000)).toISOString(),
          attributes,
        }),
      );
    };
    for (let turn = 0; turn < 3; turn++) {
      const id = `t-${s}-${turn}`;
      ev('voice.first_response', {
        'voice.turn_id': id,
        'voice.first_response_ms': 250 + ((s * 37 + turn * 91) % 700),
      });
      ev('voice.asr_partial', { 'voice.turn_id': id, 'voice.asr_latency_ms': 30 + ((s * 13 + turn) % 90) });
      if ((s + turn) % 4 === 0) ev('voice.barge_in', { 'voice.turn_id': id, 'voice.barge_in_ms': 900 + s });
      ev('voice.turn_completed', {
        'voice.turn_id': id,
        'voice.turn.end_reason': (s + turn) % 4 === 0 ? 'interrupted_by_user' : 'completed',
        'voice.latency.endpoint_ms': 200 + ((s + turn) % 100),
        'voice.latency.stt_final_ms': 150 + ((s * 7 + turn) % 120),
        'voice.latency.llm_ttft_ms': 300 + ((s * 11 + turn) % 400),
        'voice.latency.tts_ttfb_ms': 90 + ((s * 5 + turn) % 80),
        'voice.latency.e2e_ms': 800 + ((s * 37 + turn * 91) % 700),
      });
    }
    for (let c = 0; c < 2; c++) {
      ev('ai.tool_call_completed', {
        'gen_ai.tool.name': c ? 'kb.search' : 'navigation.goto',
        'gen_ai.tool.call.id': `call-${s}-${c}`,
        'ai.tool.duration_ms': 100 + s,
        'ai.tool.success': (s + c) % 5 !== 0,
        ...((s + c) % 5 === 0 ? { 'error.type': 'timeout' } : {}),
      });
    }
    ev('ai.tool_chain_completed', { 'ai.tool_chain.length': 1 + (s % 4), 'ai.tool_chain.success': true });
    const search = `s-${s}`;
    ev('kb.search', {
      'kb.search_id': search,
      'kb.query': 'opening hours',
      'kb.results_count': 4,
      'kb.latency_ms': 20 + (s % 60),
    });
    if (s % 3 !== 2)
      ev('kb.hit', {
        'kb.search_id': search,
        'kb.document_id': `doc-${s % 7}`,
        'kb.rank': 1,
        'kb.relevance_score': 0.5 + (s % 5) / 10,
      });
    ev('commerce.view', { 'commerce.item_id': 'sku-1', 'commerce.price': 19.9, 'commerce.currency': 'EUR' });
    if (s % 2 === 0) ev('commerce.add_to_cart', { 'commerce.item_id': 'sku-1', 'commerce.quantity': 1 });
    if (s % 4 === 0)
      ev('commerce.checkout', { 'commerce.order_id': `o-${s}`, 'commerce.value': 19.9, 'commerce.currency': 'EUR' });
    const hold = `h-${s}`;
    ev('booking.slot_hold', {
      'booking.hold_id': hold,
      'booking.slot_start': new Date(now + 86_400_000).toISOString(),
    });
    if (s % 3 !== 0) ev('booking.confirmed', { 'booking.hold_id': hold, 'booking.booking_id': `b-${s}` });
    if (s % 6 === 0) ev('system.error', { 'error.type': 'timeout', 'service.name': 'voice-gateway' });
  }
  return out;
}
