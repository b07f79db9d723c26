/**
 * The built-in event types: for each, the JSON Schema of its `attributes` and a description.
 * Attribute names follow OpenTelemetry conventions where OTel has a name (`gen_ai.*`, `error.type`)
 * and dotted namespaces where it has none. Attributes not listed are allowed and stored as sent.
 * docs/events.md is generated from this file (`npm run docs:events`).
 */
export interface BuiltinEventType {
  name: string;
  description: string;
  attributes: Record<string, unknown> & { properties: Record<string, AttributeSchema> };
  example: Record<string, unknown>;
}

export interface AttributeSchema {
  type: string;
  description: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  [keyword: string]: unknown;
}

const id = (description: string): AttributeSchema => ({ type: 'string', minLength: 1, maxLength: 256, description });
const ms = (description: string): AttributeSchema => ({ type: 'number', minimum: 0, maximum: 86_400_000, description });
const score = (description: string): AttributeSchema => ({ type: 'number', minimum: 0, maximum: 1, description });
const flag = (description: string): AttributeSchema => ({ type: 'boolean', description });
const count = (minimum: number, description: string): AttributeSchema => ({
  type: 'integer',
  minimum,
  maximum: 1_000_000_000,
  description,
});
const currency: AttributeSchema = {
  type: 'string',
  pattern: '^[A-Z]{3}$',
  description: 'ISO 4217 currency code, e.g. EUR',
};
const money = (description: string): AttributeSchema => ({ type: 'number', minimum: 0, maximum: 1e12, description });
const conversation = id('Conversation the event belongs to (OTel gen_ai.conversation.id)');

function type(
  name: string,
  description: string,
  required: string[],
  properties: Record<string, AttributeSchema>,
  example: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): BuiltinEventType {
  return { name, description, attributes: { type: 'object', required, properties, ...extra }, example };
}

export const BUILTIN_EVENTS: BuiltinEventType[] = [
  type(
    'voice.turn_started',
    'A voice interaction turn begins (the user starts speaking).',
    ['voice.session_id', 'voice.turn_id'],
    {
      'voice.session_id': id('Voice session the turn belongs to'),
      'voice.turn_id': id('Turn identifier, unique within the session'),
      'voice.channel': { type: 'string', maxLength: 64, description: 'Channel, e.g. phone, web, app' },
    },
    { 'voice.session_id': 'vs-81f2', 'voice.turn_id': 't-1', 'voice.channel': 'phone' },
  ),

  type(
    'voice.first_response',
    'The assistant produced its first response audio for a turn.',
    ['voice.turn_id', 'voice.first_response_ms'],
    {
      'voice.turn_id': id('Turn identifier'),
      'voice.first_response_ms': ms('Time from end of user speech to first response audio, ms'),
      'gen_ai.request.model': {
        type: 'string',
        maxLength: 128,
        description: 'Model that produced the response (OTel gen_ai.request.model)',
      },
    },
    { 'voice.turn_id': 't-1', 'voice.first_response_ms': 412.5, 'gen_ai.request.model': 'gpt-4o-mini' },
  ),

  type(
    'voice.barge_in',
    'The user interrupted the assistant while it was speaking.',
    ['voice.turn_id', 'voice.barge_in_ms'],
    {
      'voice.turn_id': id('Turn identifier'),
      'voice.barge_in_ms': ms("Time into the assistant's speech at which the user interrupted, ms"),
    },
    { 'voice.turn_id': 't-1', 'voice.barge_in_ms': 1800 },
  ),

  type(
    'voice.asr_partial',
    'A partial speech-recognition result arrived.',
    ['voice.turn_id', 'voice.asr_latency_ms'],
    {
      'voice.turn_id': id('Turn identifier'),
      'voice.asr_latency_ms': ms('Latency of this partial result, ms'),
      'voice.asr_partial_index': count(0, 'Index of the partial within the turn'),
      'voice.asr_is_final': flag('Whether this is the final transcript'),
    },
    { 'voice.turn_id': 't-1', 'voice.asr_latency_ms': 48, 'voice.asr_partial_index': 3, 'voice.asr_is_final': false },
  ),

  type(
    'ai.tool_call_started',
    'An AI agent started a tool call.',
    ['gen_ai.tool.name', 'gen_ai.tool.call.id'],
    {
      'gen_ai.tool.name': id('Tool name (OTel gen_ai.tool.name), e.g. navigation.goto'),
      'gen_ai.tool.call.id': id('Tool call identifier (OTel gen_ai.tool.call.id)'),
      'ai.tool.category': {
        type: 'string',
        maxLength: 64,
        description: 'Tool category, e.g. navigation, search, booking',
      },
      'gen_ai.conversation.id': conversation,
    },
    { 'gen_ai.tool.name': 'navigation.goto', 'gen_ai.tool.call.id': 'call-7', 'ai.tool.category': 'navigation' },
  ),

  type(
    'ai.tool_call_completed',
    'A tool call finished, successfully or not.',
    ['gen_ai.tool.name', 'gen_ai.tool.call.id', 'ai.tool.duration_ms', 'ai.tool.success'],
    {
      'gen_ai.tool.name': id('Tool name (OTel gen_ai.tool.name)'),
      'gen_ai.tool.call.id': id('Tool call identifier (OTel gen_ai.tool.call.id)'),
      'ai.tool.duration_ms': ms('Execution time, ms'),
      'ai.tool.success': flag('Whether the call succeeded'),
      'ai.tool.category': { type: 'string', maxLength: 64, description: 'Tool category' },
      'error.type': {
        type: 'string',
        minLength: 1,
        maxLength: 128,
        description: 'Failure class (OTel error.type); required when ai.tool.success is false',
      },
      'ai.navigation.optimistic': flag('The UI navigated before the tool confirmed (optimistic navigation)'),
      'gen_ai.conversation.id': conversation,
    },
    {
      'gen_ai.tool.name': 'navigation.goto',
      'gen_ai.tool.call.id': 'call-7',
      'ai.tool.duration_ms': 150,
      'ai.tool.success': true,
      'ai.navigation.optimistic': true,
    },
    {
      if: { properties: { 'ai.tool.success': { const: false } }, required: ['ai.tool.success'] },
      then: { required: ['error.type'] },
    },
  ),

  type(
    'ai.tool_chain_completed',
    'A multi-tool sequence for one task finished.',
    ['ai.tool_chain.length', 'ai.tool_chain.success'],
    {
      'ai.tool_chain.length': count(1, 'Number of tool calls in the chain'),
      'ai.tool_chain.success': flag('Whether the task succeeded'),
      'ai.tool_chain.duration_ms': ms('Duration of the whole chain, ms'),
      'gen_ai.conversation.id': conversation,
    },
    { 'ai.tool_chain.length': 3, 'ai.tool_chain.success': true, 'ai.tool_chain.duration_ms': 2100 },
  ),

  type(
    'ai.llm_call_completed',
    'A model call (chat, completion or realtime response) finished: its model, tokens and timings (OTel gen_ai.* names).',
    ['gen_ai.request.model'],
    {
      'gen_ai.request.model': {
        type: 'string',
        minLength: 1,
        maxLength: 128,
        description: 'Model asked for (OTel gen_ai.request.model)',
      },
      'gen_ai.response.model': {
        type: 'string',
        maxLength: 128,
        description: 'Model that answered (OTel gen_ai.response.model)',
      },
      'gen_ai.provider.name': {
        type: 'string',
        maxLength: 64,
        description: 'Provider, e.g. openai, anthropic, aws.bedrock (OTel gen_ai.provider.name)',
      },
      'gen_ai.operation.name': {
        type: 'string',
        maxLength: 64,
        description: 'Operation, e.g. chat, text_completion, generate_content (OTel gen_ai.operation.name)',
      },
      'gen_ai.usage.input_tokens': count(
        0,
        'Input (prompt) tokens, cached ones included (OTel gen_ai.usage.input_tokens)',
      ),
      'gen_ai.usage.output_tokens': count(0, 'Output (completion) tokens (OTel gen_ai.usage.output_tokens)'),
      'gen_ai.usage.cache_read.input_tokens': count(0, 'Input tokens served from the provider cache'),
      'gen_ai.usage.cache_creation.input_tokens': count(0, 'Input tokens written to the provider cache'),
      'gen_ai.usage.reasoning.output_tokens': count(0, 'Output tokens spent on reasoning'),
      'gen_ai.usage.audio.input_tokens': count(0, 'Audio input tokens (realtime and speech models)'),
      'gen_ai.usage.audio.output_tokens': count(0, 'Audio output tokens (realtime and speech models)'),
      'ai.llm.duration_ms': ms('Time from request to the last chunk, ms'),
      'ai.llm.time_to_first_token_ms': ms('Time from request to the first chunk of the answer, ms'),
      'gen_ai.response.finish_reasons': {
        type: 'array',
        maxItems: 16,
        items: { type: 'string', maxLength: 64 },
        description: 'Why the model stopped, one per choice, e.g. ["stop"] (OTel gen_ai.response.finish_reasons)',
      },
      'error.type': { type: 'string', minLength: 1, maxLength: 128, description: 'Failure class (OTel error.type)' },
      'voice.turn_id': id('Voice turn the call served, when it served one'),
      'gen_ai.conversation.id': conversation,
    },
    {
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.provider.name': 'openai',
      'gen_ai.operation.name': 'chat',
      'gen_ai.usage.input_tokens': 812,
      'gen_ai.usage.output_tokens': 64,
      'gen_ai.usage.cache_read.input_tokens': 512,
      'ai.llm.duration_ms': 930,
      'ai.llm.time_to_first_token_ms': 310,
      'gen_ai.response.finish_reasons': ['stop'],
    },
  ),

  type(
    'kb.search',
    'A knowledge-base query was run.',
    ['kb.search_id', 'kb.query', 'kb.results_count', 'kb.latency_ms'],
    {
      'kb.search_id': id('Search identifier, referenced by kb.hit'),
      'kb.query': {
        type: 'string',
        maxLength: 8192,
        description: 'Query text (truncated to 500 characters before storage)',
      },
      'kb.results_count': count(0, 'Number of results returned'),
      'kb.latency_ms': ms('Search time, ms'),
      'kb.top_score': score('Score of the best result, 0..1'),
      'gen_ai.conversation.id': conversation,
    },
    {
      'kb.search_id': 's-42',
      'kb.query': 'product pricing information',
      'kb.results_count': 5,
      'kb.latency_ms': 45,
      'kb.top_score': 0.89,
    },
  ),

  type(
    'kb.hit',
    'A search result was used (opened, cited or clicked).',
    ['kb.search_id', 'kb.document_id'],
    {
      'kb.search_id': id('The kb.search this result came from'),
      'kb.document_id': id('Document identifier'),
      'kb.rank': count(1, 'Position of the result, 1 = first'),
      'kb.relevance_score': score('Relevance of the document, 0..1'),
    },
    { 'kb.search_id': 's-42', 'kb.document_id': 'doc-pricing', 'kb.rank': 1, 'kb.relevance_score': 0.92 },
  ),

  type(
    'commerce.view',
    'A product or service was viewed.',
    ['commerce.item_id'],
    {
      'commerce.item_id': id('Item identifier'),
      'commerce.price': money('Unit price'),
      'commerce.currency': currency,
    },
    { 'commerce.item_id': 'sku-1', 'commerce.price': 19.9, 'commerce.currency': 'EUR' },
  ),

  type(
    'commerce.add_to_cart',
    'An item was added to the cart.',
    ['commerce.item_id', 'commerce.quantity'],
    {
      'commerce.item_id': id('Item identifier'),
      'commerce.quantity': count(1, 'Quantity added'),
      'commerce.price': money('Unit price'),
      'commerce.currency': currency,
    },
    { 'commerce.item_id': 'sku-1', 'commerce.quantity': 2, 'commerce.price': 19.9, 'commerce.currency': 'EUR' },
  ),

  type(
    'commerce.checkout',
    'A checkout was completed (an order placed).',
    ['commerce.order_id', 'commerce.value', 'commerce.currency'],
    {
      'commerce.order_id': id('Order identifier'),
      'commerce.value': money('Order value'),
      'commerce.currency': currency,
      'commerce.items_count': count(0, 'Number of items in the order'),
    },
    { 'commerce.order_id': 'o-1001', 'commerce.value': 39.8, 'commerce.currency': 'EUR', 'commerce.items_count': 2 },
  ),

  type(
    'booking.slot_hold',
    'A time slot was held for a booking.',
    ['booking.hold_id', 'booking.slot_start'],
    {
      'booking.hold_id': id('Hold identifier, referenced by booking.confirmed'),
      'booking.slot_start': { type: 'string', format: 'date-time', description: 'Start of the held slot (RFC 3339)' },
      'booking.resource_id': id('Resource booked (room, person, table)'),
      'booking.hold_expires_at': {
        type: 'string',
        format: 'date-time',
        description: 'When the hold lapses (RFC 3339)',
      },
    },
    {
      'booking.hold_id': 'h-9',
      'booking.slot_start': '2025-01-20T09:00:00Z',
      'booking.resource_id': 'room-2',
      'booking.hold_expires_at': '2025-01-15T10:45:00Z',
    },
  ),

  type(
    'booking.confirmed',
    'A held slot was confirmed as a booking.',
    ['booking.hold_id', 'booking.booking_id'],
    {
      'booking.hold_id': id('The hold confirmed'),
      'booking.booking_id': id('Booking identifier'),
    },
    { 'booking.hold_id': 'h-9', 'booking.booking_id': 'b-77' },
  ),

  type(
    'system.error',
    'The product service hit an error (the source of system.error_rate).',
    ['error.type'],
    {
      'error.type': {
        type: 'string',
        minLength: 1,
        maxLength: 128,
        description: 'Failure class (OTel error.type), e.g. timeout, 500',
      },
      'error.message': { type: 'string', maxLength: 2048, description: 'Short description; passes the PII sanitizer' },
      'service.name': { type: 'string', maxLength: 128, description: 'Service that failed (OTel service.name)' },
    },
    { 'error.type': 'timeout', 'service.name': 'voice-gateway' },
  ),
];

export const BUILTIN_EVENT_NAMES = new Set(BUILTIN_EVENTS.map((e) => e.name));
