/**
 * How OTLP spans and log records become events: the mapping as data. The mapper
 * (otlp-mapper.ts) applies it, docs/otlp.md is generated from it (`npm run docs:otlp`), and
 * otlp-mapping.spec.ts checks it against the built-in event types.
 *
 * A span is matched against SPAN_RULES in order; the first rule that matches decides what it
 * emits, and a span no rule matches is counted and skipped. Each emitted attribute takes the
 * first of its sources that yields a value; an attribute none yields is left out (and the event's
 * schema decides whether that is allowed).
 */

/** Where an attribute's value comes from. */
export type ValueSource =
  /** A span (or log record) attribute, as sent. */
  | { attr: string }
  /** A span attribute in seconds, turned to milliseconds. */
  | { seconds: string }
  /** A field of a span attribute that holds a JSON object (LiveKit's `lk.llm_metrics`); `scale` multiplies a number. */
  | { json: string; field: string; scale?: number }
  /** A resource attribute (`service.name`, `deployment.environment.name`). */
  | { resource: string }
  /** Something the span itself says: see SPAN_FACTS. */
  | { span: SpanFact }
  /** A fixed value. */
  | { value: string | number | boolean };

export type SpanFact =
  | 'duration_ms'
  | 'succeeded'
  | 'error_type'
  | 'span_id'
  | 'name_suffix'
  | 'tool_calls_below'
  | 'turn_id'
  | 'first_audio_after_user_speech_ms';

export const SPAN_FACTS: Record<SpanFact, string> = {
  duration_ms: 'end time − start time of the span, in ms',
  succeeded: 'true unless the span status is ERROR (or LiveKit marks the tool call `lk.function_tool.is_error`)',
  error_type: '`_OTHER` (the OTel fallback class) when the span status is ERROR and no `error.type` was sent',
  span_id: 'the span id (16 hex digits)',
  name_suffix: 'what follows the first space of the span name (`execute_tool search_flights` → `search_flights`)',
  tool_calls_below:
    'how many spans of the same export request below this one (children, grandchildren…) the tool-call rule matched',
  turn_id:
    'the span id of the nearest voice turn span (this span or an ancestor in the same export request that the voice-turn rule matched)',
  first_audio_after_user_speech_ms:
    "the TTS span's start plus its time to first byte, minus the end of the last STT span of the same turn that ended before it",
};

export interface AttributeRule {
  to: string;
  from: ValueSource[];
}

export interface EmittedEvent {
  event: string;
  /** The span's start or end time becomes occurred_at. */
  at: 'start' | 'end';
  attributes: AttributeRule[];
  /** The event is emitted only when this attribute has a value; else the span counts as skipped. */
  requires?: string;
  /** Emitted only for the earliest span of its voice turn that this rule matches. */
  firstInTurn?: boolean;
}

export interface SpanMatch {
  /** `gen_ai.operation.name` is one of these. */
  operations?: string[];
  /** The span name is one of these, or one of these followed by a space and more (`execute_tool {name}`). */
  names?: string[];
  /** A span attribute has one of these values. */
  attribute?: { key: string; values: string[] };
}

export interface SpanRule {
  id: string;
  description: string;
  /** Whose spans this rule is for. */
  emitters: string;
  match: SpanMatch;
  emits: EmittedEvent[];
}

const conversation: AttributeRule = {
  to: 'gen_ai.conversation.id',
  from: [{ attr: 'gen_ai.conversation.id' }, { attr: 'conversation.id' }, { attr: 'session.id' }],
};
const toolName: AttributeRule = {
  to: 'gen_ai.tool.name',
  from: [
    { attr: 'gen_ai.tool.name' },
    { attr: 'lk.function_tool.name' },
    { attr: 'traceloop.entity.name' },
    { span: 'name_suffix' },
  ],
};
const toolCallId: AttributeRule = {
  to: 'gen_ai.tool.call.id',
  from: [{ attr: 'gen_ai.tool.call.id' }, { attr: 'lk.function_tool.id' }, { span: 'span_id' }],
};
const toolCategory: AttributeRule = {
  to: 'ai.tool.category',
  from: [{ attr: 'ai.tool.category' }, { attr: 'gen_ai.tool.type' }],
};
const turnId: AttributeRule = { to: 'voice.turn_id', from: [{ attr: 'voice.turn_id' }, { span: 'turn_id' }] };
const tokens = (to: string, ...names: string[]): AttributeRule => ({ to, from: names.map((attr) => ({ attr })) });

export const TOOL_RULE_ID = 'gen_ai.execute_tool';
export const TURN_RULE_ID = 'voice.turn';
export const STT_RULE_ID = 'voice.stt';

export const SPAN_RULES: SpanRule[] = [
  {
    id: TOOL_RULE_ID,
    description: 'A tool call: started at the span start, completed at its end.',
    emitters:
      'OTel GenAI conventions (`execute_tool {name}`; OpenAI Agents SDK and OpenLLMetry through them), LiveKit Agents (`function_tool`), OpenLLMetry (`traceloop.span.kind=tool`)',
    match: {
      operations: ['execute_tool'],
      names: ['execute_tool', 'function_tool'],
      attribute: { key: 'traceloop.span.kind', values: ['tool'] },
    },
    emits: [
      { event: 'ai.tool_call_started', at: 'start', attributes: [toolName, toolCallId, toolCategory, conversation] },
      {
        event: 'ai.tool_call_completed',
        at: 'end',
        attributes: [
          toolName,
          toolCallId,
          toolCategory,
          { to: 'ai.tool.duration_ms', from: [{ span: 'duration_ms' }] },
          { to: 'ai.tool.success', from: [{ span: 'succeeded' }] },
          { to: 'error.type', from: [{ attr: 'error.type' }, { span: 'error_type' }] },
          conversation,
        ],
      },
    ],
  },
  {
    id: 'gen_ai.invoke_agent',
    description:
      'An agent run or workflow that called tools: its chain of tool calls. A run that called no tool (in the same export request) emits nothing and counts as skipped.',
    emitters:
      'OTel GenAI conventions (`invoke_agent {name}`), OpenLLMetry (`traceloop.span.kind=workflow` or `agent`), LiveKit Agents (`agent_turn`)',
    match: {
      operations: ['invoke_agent'],
      names: ['invoke_agent', 'agent_turn'],
      attribute: { key: 'traceloop.span.kind', values: ['workflow', 'agent'] },
    },
    emits: [
      {
        event: 'ai.tool_chain_completed',
        at: 'end',
        requires: 'ai.tool_chain.length',
        attributes: [
          { to: 'ai.tool_chain.length', from: [{ span: 'tool_calls_below' }] },
          { to: 'ai.tool_chain.success', from: [{ span: 'succeeded' }] },
          { to: 'ai.tool_chain.duration_ms', from: [{ span: 'duration_ms' }] },
          conversation,
        ],
      },
    ],
  },
  {
    id: 'gen_ai.chat',
    description: 'A model call: its model, provider, tokens by kind, time to first chunk and finish reasons.',
    emitters:
      'OTel GenAI conventions (`chat {model}`, `text_completion`, `generate_content`), OpenLLMetry (`llm.request.type=chat`), Pipecat (`llm`), LiveKit Agents (`llm_request`)',
    match: {
      operations: ['chat', 'text_completion', 'generate_content'],
      names: ['chat', 'text_completion', 'generate_content', 'llm', 'llm_request'],
      attribute: { key: 'llm.request.type', values: ['chat', 'completion'] },
    },
    emits: [
      {
        event: 'ai.llm_call_completed',
        at: 'end',
        attributes: [
          {
            to: 'gen_ai.request.model',
            from: [{ attr: 'gen_ai.request.model' }, { attr: 'gen_ai.response.model' }, { attr: 'llm.model' }],
          },
          tokens('gen_ai.response.model', 'gen_ai.response.model'),
          { to: 'gen_ai.provider.name', from: [{ attr: 'gen_ai.provider.name' }, { attr: 'gen_ai.system' }] },
          {
            to: 'gen_ai.operation.name',
            from: [{ attr: 'gen_ai.operation.name' }, { attr: 'llm.request.type' }, { value: 'chat' }],
          },
          {
            to: 'gen_ai.usage.input_tokens',
            from: [
              { attr: 'gen_ai.usage.input_tokens' },
              { attr: 'gen_ai.usage.prompt_tokens' },
              { json: 'lk.llm_metrics', field: 'prompt_tokens' },
            ],
          },
          {
            to: 'gen_ai.usage.output_tokens',
            from: [
              { attr: 'gen_ai.usage.output_tokens' },
              { attr: 'gen_ai.usage.completion_tokens' },
              { json: 'lk.llm_metrics', field: 'completion_tokens' },
            ],
          },
          {
            to: 'gen_ai.usage.cache_read.input_tokens',
            from: [
              { attr: 'gen_ai.usage.cache_read.input_tokens' },
              { attr: 'gen_ai.usage.cache_read_input_tokens' },
              { json: 'lk.llm_metrics', field: 'prompt_cached_tokens' },
            ],
          },
          tokens(
            'gen_ai.usage.cache_creation.input_tokens',
            'gen_ai.usage.cache_creation.input_tokens',
            'gen_ai.usage.cache_creation_input_tokens',
          ),
          tokens(
            'gen_ai.usage.reasoning.output_tokens',
            'gen_ai.usage.reasoning.output_tokens',
            'gen_ai.usage.reasoning_tokens',
          ),
          tokens('gen_ai.usage.audio.input_tokens', 'gen_ai.usage.audio.input_tokens'),
          tokens('gen_ai.usage.audio.output_tokens', 'gen_ai.usage.audio.output_tokens'),
          { to: 'ai.llm.duration_ms', from: [{ span: 'duration_ms' }] },
          {
            to: 'ai.llm.time_to_first_token_ms',
            from: [
              { attr: 'ai.llm.time_to_first_token_ms' },
              { seconds: 'gen_ai.server.time_to_first_token' },
              { seconds: 'metrics.ttfb' },
              { json: 'lk.llm_metrics', field: 'ttft', scale: 1000 },
            ],
          },
          tokens('gen_ai.response.finish_reasons', 'gen_ai.response.finish_reasons'),
          { to: 'error.type', from: [{ attr: 'error.type' }, { span: 'error_type' }] },
          { to: 'voice.turn_id', from: [{ attr: 'voice.turn_id' }, { attr: 'lk.speech_id' }, { span: 'turn_id' }] },
          conversation,
        ],
      },
    ],
  },
  {
    id: TURN_RULE_ID,
    description:
      'A voice turn: it starts when the user starts speaking. Its span id is the turn id of the spans below it.',
    emitters: 'Pipecat (`turn`), LiveKit Agents (`user_turn`)',
    match: { names: ['turn', 'user_turn'] },
    emits: [
      {
        event: 'voice.turn_started',
        at: 'start',
        attributes: [
          {
            to: 'voice.session_id',
            from: [
              { attr: 'voice.session_id' },
              { attr: 'conversation.id' },
              { attr: 'gen_ai.conversation.id' },
              { attr: 'lk.room_name' },
              { resource: 'session.id' },
            ],
          },
          turnId,
          { to: 'voice.channel', from: [{ attr: 'voice.channel' }, { resource: 'voice.channel' }] },
        ],
      },
    ],
  },
  {
    id: STT_RULE_ID,
    description: 'A speech-recognition result, with its latency (time to first byte, else the span duration).',
    emitters: 'Pipecat (`stt`), LiveKit Agents (`stt_request`)',
    match: { names: ['stt', 'stt_request'] },
    emits: [
      {
        event: 'voice.asr_partial',
        at: 'end',
        attributes: [
          turnId,
          {
            to: 'voice.asr_latency_ms',
            from: [
              { attr: 'voice.asr_latency_ms' },
              { seconds: 'metrics.ttfb' },
              { json: 'lk.stt_metrics', field: 'duration', scale: 1000 },
              { span: 'duration_ms' },
            ],
          },
          { to: 'voice.asr_is_final', from: [{ attr: 'voice.asr_is_final' }, { attr: 'is_final' }] },
        ],
      },
    ],
  },
  {
    id: 'voice.tts',
    description:
      "The first speech synthesis of a turn: the assistant's first response audio, measured from the end of the user's speech (the turn's last STT span).",
    emitters: 'Pipecat (`tts`, `metrics.ttfb` in seconds), LiveKit Agents (`tts_request`, `lk.tts_metrics.ttfb`)',
    match: { names: ['tts', 'tts_request'] },
    emits: [
      {
        event: 'voice.first_response',
        at: 'start',
        firstInTurn: true,
        requires: 'voice.first_response_ms',
        attributes: [
          turnId,
          {
            to: 'voice.first_response_ms',
            from: [{ attr: 'voice.first_response_ms' }, { span: 'first_audio_after_user_speech_ms' }],
          },
          { to: 'gen_ai.request.model', from: [{ attr: 'gen_ai.request.model' }] },
        ],
      },
    ],
  },
];

/** The time to first byte of a TTS span, in ms: where the first_audio_after_user_speech_ms fact reads it. */
export const TTS_FIRST_BYTE: ValueSource[] = [
  { attr: 'voice.tts_ttfb_ms' },
  { seconds: 'metrics.ttfb' },
  { json: 'lk.tts_metrics', field: 'ttfb', scale: 1000 },
];

/**
 * Message content: dropped from every span and log record unless the tenant keeps content
 * (ANALYTICS_OTLP_KEEP_CONTENT_TENANTS). Kept, it is stored as a string of at most
 * CONTENT_MAX_CHARS under its own name, and passes the sanitizer like every other string.
 * Keys match exactly, or as a prefix when they end with a dot.
 */
export const CONTENT_ATTRIBUTES = [
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
  'gen_ai.tool.definitions',
  'gen_ai.prompt',
  'gen_ai.prompt.',
  'gen_ai.completion',
  'gen_ai.completion.',
  'traceloop.entity.input',
  'traceloop.entity.output',
  'lk.chat_ctx',
  'lk.user_input',
  'lk.instructions',
  'lk.response.text',
  'lk.function_tool.arguments',
  'lk.function_tool.output',
  'lk.input_text',
  'lk.user_transcript',
  'transcript',
  'text',
  'input',
  'output',
  'messages',
];
export const CONTENT_MAX_CHARS = 4000;

/** How a log record becomes an event. */
export const LOG_RULE = {
  eventName: ['eventName (LogRecord.event_name)', 'the `event.name` attribute', 'the `EventName` attribute'],
  description:
    'A log record whose event name is a built-in or tenant event type becomes that event: its attributes (less `event.name`, `EventName` and content) are the event attributes, its time (else its observed time) is occurred_at. Its body is content. A record with no event name, or one that names no event type of the tenant, counts as skipped.',
};

/** The envelope fields taken from resource (and span) attributes: a fixed rule, the same for every tenant. */
export const ENVELOPE_RULES: { field: string; from: string; rule: string }[] = [
  {
    field: 'source',
    from: 'resource `analytics.source`',
    rule: 'one of the envelope sources (web, widget, voice_ws, server); otherwise `server`',
  },
  {
    field: 'site_id',
    from: 'resource `analytics.site_id`, else `service.name` and `deployment.environment.name`',
    rule: '`analytics.site_id` when it is a UUID; otherwise, with a `service.name`, the UUID derived from the tenant, the service name and the deployment environment (`deployment.environment.name`, else `deployment.environment`) (`otlpSiteId` in src/modules/otlp/otlp-ids.ts: the first 16 bytes of SHA-256 over them, as a version-8 UUID), the same every time; else none',
  },
  {
    field: 'session_id',
    from: 'span/record `session.id`, else resource `session.id`',
    rule: 'when it is a UUID',
  },
  {
    field: 'user_id',
    from: 'span/record `user.id` or `enduser.id`, else the same resource attributes',
    rule: 'as sent; the sanitizer pseudonymizes it as it does every user_id',
  },
  {
    field: 'event_id',
    from: 'trace id, span id and event type (spans); trace id, span id and the record itself (logs)',
    rule: 'a UUID derived from them with SHA-256: an exporter that sends the same batch again sends duplicates',
  },
];
