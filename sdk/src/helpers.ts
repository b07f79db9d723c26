import type { AnalyticsClient, TrackEvent } from './client.js';
import type { TrackedVerdict } from './tracker.js';

/**
 * The product brief's helpers: each builds events of the built-in types (docs/events.md) and tracks
 * them through the client's buffer; the promise settles with the verdicts.
 */

export interface VoiceMetrics {
  /** End of user speech to first response audio (voice.first_response). */
  firstResponseMs?: number;
  /** When into the assistant's speech the user interrupted (voice.barge_in). */
  bargeInMs?: number;
  /** Latency of a speech-recognition partial (voice.asr_partial). */
  asrLatencyMs?: number;
  /** The turn these belong to (default: a new id, shared by the events of this call). */
  turnId?: string;
  /** The conversation (gen_ai.conversation.id), when the session carries several. */
  conversationId?: string;
}

/** One ended voice turn (voice.turn_completed): stages in ms, each from its clock origin (docs/metrics.md). */
export interface VoiceTurn {
  /** The turn (default: a new id). */
  turnId?: string;
  conversationId?: string;
  index?: number;
  endReason: 'completed' | 'interrupted_by_user' | 'interrupted_by_agent' | 'error' | 'session_closed';
  /** Stages the client measured; leave out the others (never send 0 for an unmeasured stage). */
  stages?: {
    endpointMs?: number;
    sttFinalMs?: number;
    llmTtftMs?: number;
    toolMs?: number;
    ttsTtfbMs?: number;
    playoutMs?: number;
    e2eMs?: number;
  };
  bargeIn?: { by: 'user' | 'agent'; yieldMs?: number; resumed?: boolean };
  stt?: { audioMs: number; model?: string; provider?: string };
  tts?: { characters: number; model?: string; provider?: string };
  errorType?: string;
}

export interface ToolExecutionOptions {
  /** The failure class when success is false (error.type; default tool_error). */
  errorType?: string;
  /** The tool call's id (gen_ai.tool.call.id; default a new id). */
  callId?: string;
  /** The UI navigated before the tool confirmed. */
  optimisticNavigation?: boolean;
  sessionId?: string;
}

export interface AnalyticsHelpers {
  trackVoiceMetrics(
    tenantId: string,
    siteId: string,
    sessionId: string,
    metrics: VoiceMetrics,
  ): Promise<TrackedVerdict[]>;
  trackVoiceTurn(tenantId: string, siteId: string, sessionId: string, turn: VoiceTurn): Promise<TrackedVerdict>;
  trackToolExecution(
    tenantId: string,
    siteId: string,
    toolName: string,
    category: string,
    durationMs: number,
    success: boolean,
    conversationId?: string,
    options?: ToolExecutionOptions,
  ): Promise<TrackedVerdict>;
  trackKBSearch(
    tenantId: string,
    siteId: string,
    query: string,
    resultsCount: number,
    searchMs: number,
    topScore?: number,
    conversationId?: string,
    options?: { searchId?: string; sessionId?: string },
  ): Promise<TrackedVerdict>;
  trackProductView(
    tenantId: string,
    siteId: string,
    itemId: string,
    options?: { price?: number; currency?: string; sessionId?: string },
  ): Promise<TrackedVerdict>;
  trackAddToCart(
    tenantId: string,
    siteId: string,
    itemId: string,
    quantity: number,
    options?: { price?: number; currency?: string; sessionId?: string },
  ): Promise<TrackedVerdict>;
  trackCheckout(
    tenantId: string,
    siteId: string,
    orderId: string,
    value: number,
    currency: string,
    options?: { itemsCount?: number; sessionId?: string },
  ): Promise<TrackedVerdict>;
  trackSlotHold(
    tenantId: string,
    siteId: string,
    holdId: string,
    slotStart: string | Date,
    options?: { resourceId?: string; expiresAt?: string | Date; sessionId?: string },
  ): Promise<TrackedVerdict>;
  trackBookingConfirmed(
    tenantId: string,
    siteId: string,
    holdId: string,
    bookingId: string,
    options?: { sessionId?: string },
  ): Promise<TrackedVerdict>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (t: string | Date) => (typeof t === 'string' ? t : t.toISOString());
/** Only defined values: the schemas refuse nulls where a value is optional. */
const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export function analyticsHelpers(
  client: Pick<AnalyticsClient, 'track'>,
  newId: () => string = () => globalThis.crypto.randomUUID(),
): AnalyticsHelpers {
  /** A session id goes to the envelope when it is a UUID (the funnels' unit); else it stays an attribute. */
  const event = (
    tenantId: string,
    siteId: string,
    event_name: string,
    attributes: Record<string, unknown>,
    sessionId?: string,
  ): TrackEvent => ({
    tenant_id: tenantId,
    site_id: siteId,
    event_name,
    ...(sessionId && UUID.test(sessionId) ? { session_id: sessionId } : {}),
    attributes: defined(attributes),
  });

  return {
    trackVoiceMetrics(tenantId, siteId, sessionId, metrics) {
      const turn = metrics.turnId ?? newId();
      const common = {
        'voice.turn_id': turn,
        'voice.session_id': sessionId,
        'gen_ai.conversation.id': metrics.conversationId,
      };
      const events: TrackEvent[] = [];
      if (metrics.firstResponseMs !== undefined)
        events.push(
          event(
            tenantId,
            siteId,
            'voice.first_response',
            { ...common, 'voice.first_response_ms': metrics.firstResponseMs },
            sessionId,
          ),
        );
      if (metrics.bargeInMs !== undefined)
        events.push(
          event(tenantId, siteId, 'voice.barge_in', { ...common, 'voice.barge_in_ms': metrics.bargeInMs }, sessionId),
        );
      if (metrics.asrLatencyMs !== undefined)
        events.push(
          event(
            tenantId,
            siteId,
            'voice.asr_partial',
            { ...common, 'voice.asr_latency_ms': metrics.asrLatencyMs },
            sessionId,
          ),
        );
      if (!events.length)
        throw new TypeError('trackVoiceMetrics: give at least one of firstResponseMs, bargeInMs, asrLatencyMs');
      return Promise.all(events.map((e) => client.track(e)));
    },

    trackVoiceTurn(tenantId, siteId, sessionId, turn) {
      const st = turn.stages ?? {};
      return client.track(
        event(
          tenantId,
          siteId,
          'voice.turn_completed',
          {
            'voice.turn_id': turn.turnId ?? newId(),
            'voice.session_id': sessionId,
            'gen_ai.conversation.id': turn.conversationId,
            'voice.turn.index': turn.index,
            'voice.turn.end_reason': turn.endReason,
            'voice.latency.endpoint_ms': st.endpointMs,
            'voice.latency.stt_final_ms': st.sttFinalMs,
            'voice.latency.llm_ttft_ms': st.llmTtftMs,
            'voice.latency.tool_ms': st.toolMs,
            'voice.latency.tts_ttfb_ms': st.ttsTtfbMs,
            'voice.latency.playout_ms': st.playoutMs,
            'voice.latency.e2e_ms': st.e2eMs,
            'voice.barge_in.by': turn.bargeIn?.by,
            'voice.barge_in.yield_ms': turn.bargeIn?.yieldMs,
            'voice.barge_in.resumed': turn.bargeIn?.resumed,
            'voice.stt.audio_ms': turn.stt?.audioMs,
            'voice.stt.model': turn.stt?.model,
            'voice.stt.provider': turn.stt?.provider,
            'voice.tts.characters': turn.tts?.characters,
            'voice.tts.model': turn.tts?.model,
            'voice.tts.provider': turn.tts?.provider,
            'error.type': turn.errorType,
          },
          sessionId,
        ),
      );
    },

    trackToolExecution(tenantId, siteId, toolName, category, durationMs, success, conversationId, options = {}) {
      return client.track(
        event(
          tenantId,
          siteId,
          'ai.tool_call_completed',
          {
            'gen_ai.tool.name': toolName,
            'gen_ai.tool.call.id': options.callId ?? newId(),
            'ai.tool.category': category,
            'ai.tool.duration_ms': durationMs,
            'ai.tool.success': success,
            'error.type': success ? undefined : (options.errorType ?? 'tool_error'),
            'ai.navigation.optimistic': options.optimisticNavigation,
            'gen_ai.conversation.id': conversationId,
          },
          options.sessionId,
        ),
      );
    },

    trackKBSearch(tenantId, siteId, query, resultsCount, searchMs, topScore, conversationId, options = {}) {
      return client.track(
        event(
          tenantId,
          siteId,
          'kb.search',
          {
            'kb.search_id': options.searchId ?? newId(),
            'kb.query': query,
            'kb.results_count': resultsCount,
            'kb.latency_ms': searchMs,
            'kb.top_score': topScore,
            'gen_ai.conversation.id': conversationId,
          },
          options.sessionId,
        ),
      );
    },

    trackProductView(tenantId, siteId, itemId, options = {}) {
      return client.track(
        event(
          tenantId,
          siteId,
          'commerce.view',
          { 'commerce.item_id': itemId, 'commerce.price': options.price, 'commerce.currency': options.currency },
          options.sessionId,
        ),
      );
    },

    trackAddToCart(tenantId, siteId, itemId, quantity, options = {}) {
      return client.track(
        event(
          tenantId,
          siteId,
          'commerce.add_to_cart',
          {
            'commerce.item_id': itemId,
            'commerce.quantity': quantity,
            'commerce.price': options.price,
            'commerce.currency': options.currency,
          },
          options.sessionId,
        ),
      );
    },

    trackCheckout(tenantId, siteId, orderId, value, currency, options = {}) {
      return client.track(
        event(
          tenantId,
          siteId,
          'commerce.checkout',
          {
            'commerce.order_id': orderId,
            'commerce.value': value,
            'commerce.currency': currency,
            'commerce.items_count': options.itemsCount,
          },
          options.sessionId,
        ),
      );
    },

    trackSlotHold(tenantId, siteId, holdId, slotStart, options = {}) {
      return client.track(
        event(
          tenantId,
          siteId,
          'booking.slot_hold',
          {
            'booking.hold_id': holdId,
            'booking.slot_start': iso(slotStart),
            'booking.resource_id': options.resourceId,
            'booking.hold_expires_at': options.expiresAt === undefined ? undefined : iso(options.expiresAt),
          },
          options.sessionId,
        ),
      );
    },

    trackBookingConfirmed(tenantId, siteId, holdId, bookingId, options = {}) {
      return client.track(
        event(
          tenantId,
          siteId,
          'booking.confirmed',
          { 'booking.hold_id': holdId, 'booking.booking_id': bookingId },
          options.sessionId,
        ),
      );
    },
  };
}
