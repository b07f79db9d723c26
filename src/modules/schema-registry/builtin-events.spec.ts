import { BUILTIN_EVENTS } from './builtin-events';
import { EnvelopeValidator } from './envelope-validator';
import { EventValidator } from './event-validator';
import { TenantSchemaSet } from './tenant-schema-set';

const validator = new EventValidator(new EnvelopeValidator());
const check = (event_name: string, attributes: unknown) =>
  validator
    .content({ event_name, attributes }, TenantSchemaSet.empty())
    .map((e) => [e.pointer, e.keyword, e.message, e.schema]);

type Case = [string, (a: Record<string, unknown>) => void, [string, string, string]];

/** For each built-in type, three ways to get it wrong and the error each must produce. */
const INVALID: Record<string, Case[]> = {
  'voice.turn_started': [
    [
      'missing the session',
      (a) => delete a['voice.session_id'],
      ['/attributes/voice.session_id', 'required', '/attributes/voice.session_id is required'],
    ],
    [
      'an empty turn id',
      (a) => {
        a['voice.turn_id'] = '';
      },
      ['/attributes/voice.turn_id', 'minLength', '/attributes/voice.turn_id must NOT have fewer than 1 characters'],
    ],
    [
      'a numeric channel',
      (a) => {
        a['voice.channel'] = 3;
      },
      ['/attributes/voice.channel', 'type', '/attributes/voice.channel must be a string'],
    ],
  ],
  'voice.first_response': [
    [
      'missing the latency',
      (a) => delete a['voice.first_response_ms'],
      ['/attributes/voice.first_response_ms', 'required', '/attributes/voice.first_response_ms is required'],
    ],
    [
      'a negative latency',
      (a) => {
        a['voice.first_response_ms'] = -1;
      },
      ['/attributes/voice.first_response_ms', 'minimum', '/attributes/voice.first_response_ms must be >= 0'],
    ],
    [
      'a latency as text',
      (a) => {
        a['voice.first_response_ms'] = '412';
      },
      ['/attributes/voice.first_response_ms', 'type', '/attributes/voice.first_response_ms must be a number'],
    ],
  ],
  'voice.barge_in': [
    [
      'missing the turn',
      (a) => delete a['voice.turn_id'],
      ['/attributes/voice.turn_id', 'required', '/attributes/voice.turn_id is required'],
    ],
    [
      'a negative offset',
      (a) => {
        a['voice.barge_in_ms'] = -5;
      },
      ['/attributes/voice.barge_in_ms', 'minimum', '/attributes/voice.barge_in_ms must be >= 0'],
    ],
    [
      'an offset past a day',
      (a) => {
        a['voice.barge_in_ms'] = 1e9;
      },
      ['/attributes/voice.barge_in_ms', 'maximum', '/attributes/voice.barge_in_ms must be <= 86400000'],
    ],
  ],
  'voice.asr_partial': [
    [
      'missing the latency',
      (a) => delete a['voice.asr_latency_ms'],
      ['/attributes/voice.asr_latency_ms', 'required', '/attributes/voice.asr_latency_ms is required'],
    ],
    [
      'a fractional index',
      (a) => {
        a['voice.asr_partial_index'] = 1.5;
      },
      ['/attributes/voice.asr_partial_index', 'type', '/attributes/voice.asr_partial_index must be an integer'],
    ],
    [
      'a final flag as text',
      (a) => {
        a['voice.asr_is_final'] = 'yes';
      },
      ['/attributes/voice.asr_is_final', 'type', '/attributes/voice.asr_is_final must be a boolean'],
    ],
  ],
  'ai.tool_call_started': [
    [
      'missing the tool name',
      (a) => delete a['gen_ai.tool.name'],
      ['/attributes/gen_ai.tool.name', 'required', '/attributes/gen_ai.tool.name is required'],
    ],
    [
      'missing the call id',
      (a) => delete a['gen_ai.tool.call.id'],
      ['/attributes/gen_ai.tool.call.id', 'required', '/attributes/gen_ai.tool.call.id is required'],
    ],
    [
      'a category object',
      (a) => {
        a['ai.tool.category'] = {};
      },
      ['/attributes/ai.tool.category', 'type', '/attributes/ai.tool.category must be a string'],
    ],
  ],
  'ai.tool_call_completed': [
    [
      'a failure without error.type',
      (a) => {
        a['ai.tool.success'] = false;
      },
      ['/attributes/error.type', 'required', '/attributes/error.type is required'],
    ],
    [
      'success as text',
      (a) => {
        a['ai.tool.success'] = 'true';
      },
      ['/attributes/ai.tool.success', 'type', '/attributes/ai.tool.success must be a boolean'],
    ],
    [
      'missing the duration',
      (a) => delete a['ai.tool.duration_ms'],
      ['/attributes/ai.tool.duration_ms', 'required', '/attributes/ai.tool.duration_ms is required'],
    ],
  ],
  'ai.llm_call_completed': [
    [
      'a missing model',
      (a) => {
        delete a['gen_ai.request.model'];
      },
      ['/attributes/gen_ai.request.model', 'required', '/attributes/gen_ai.request.model is required'],
    ],
    [
      'negative input tokens',
      (a) => {
        a['gen_ai.usage.input_tokens'] = -1;
      },
      ['/attributes/gen_ai.usage.input_tokens', 'minimum', '/attributes/gen_ai.usage.input_tokens must be >= 0'],
    ],
    [
      'fractional output tokens',
      (a) => {
        a['gen_ai.usage.output_tokens'] = 1.5;
      },
      ['/attributes/gen_ai.usage.output_tokens', 'type', '/attributes/gen_ai.usage.output_tokens must be an integer'],
    ],
    [
      'a finish reason that is not a string',
      (a) => {
        a['gen_ai.response.finish_reasons'] = [7];
      },
      [
        '/attributes/gen_ai.response.finish_reasons/0',
        'type',
        '/attributes/gen_ai.response.finish_reasons/0 must be a string',
      ],
    ],
  ],
  'ai.tool_chain_completed': [
    [
      'an empty chain',
      (a) => {
        a['ai.tool_chain.length'] = 0;
      },
      ['/attributes/ai.tool_chain.length', 'minimum', '/attributes/ai.tool_chain.length must be >= 1'],
    ],
    [
      'a fractional length',
      (a) => {
        a['ai.tool_chain.length'] = 2.5;
      },
      ['/attributes/ai.tool_chain.length', 'type', '/attributes/ai.tool_chain.length must be an integer'],
    ],
    [
      'missing success',
      (a) => delete a['ai.tool_chain.success'],
      ['/attributes/ai.tool_chain.success', 'required', '/attributes/ai.tool_chain.success is required'],
    ],
  ],
  'kb.search': [
    [
      'missing the query',
      (a) => delete a['kb.query'],
      ['/attributes/kb.query', 'required', '/attributes/kb.query is required'],
    ],
    [
      'a negative result count',
      (a) => {
        a['kb.results_count'] = -1;
      },
      ['/attributes/kb.results_count', 'minimum', '/attributes/kb.results_count must be >= 0'],
    ],
    [
      'a top score above 1',
      (a) => {
        a['kb.top_score'] = 1.2;
      },
      ['/attributes/kb.top_score', 'maximum', '/attributes/kb.top_score must be <= 1'],
    ],
  ],
  'kb.hit': [
    [
      'missing the document',
      (a) => delete a['kb.document_id'],
      ['/attributes/kb.document_id', 'required', '/attributes/kb.document_id is required'],
    ],
    [
      'rank zero',
      (a) => {
        a['kb.rank'] = 0;
      },
      ['/attributes/kb.rank', 'minimum', '/attributes/kb.rank must be >= 1'],
    ],
    [
      'a negative relevance',
      (a) => {
        a['kb.relevance_score'] = -0.1;
      },
      ['/attributes/kb.relevance_score', 'minimum', '/attributes/kb.relevance_score must be >= 0'],
    ],
  ],
  'commerce.view': [
    [
      'missing the item',
      (a) => delete a['commerce.item_id'],
      ['/attributes/commerce.item_id', 'required', '/attributes/commerce.item_id is required'],
    ],
    [
      'a negative price',
      (a) => {
        a['commerce.price'] = -1;
      },
      ['/attributes/commerce.price', 'minimum', '/attributes/commerce.price must be >= 0'],
    ],
    [
      'a lower-case currency',
      (a) => {
        a['commerce.currency'] = 'eur';
      },
      ['/attributes/commerce.currency', 'pattern', '/attributes/commerce.currency must match ^[A-Z]{3}$'],
    ],
  ],
  'commerce.add_to_cart': [
    [
      'a zero quantity',
      (a) => {
        a['commerce.quantity'] = 0;
      },
      ['/attributes/commerce.quantity', 'minimum', '/attributes/commerce.quantity must be >= 1'],
    ],
    [
      'a fractional quantity',
      (a) => {
        a['commerce.quantity'] = 1.5;
      },
      ['/attributes/commerce.quantity', 'type', '/attributes/commerce.quantity must be an integer'],
    ],
    [
      'missing the quantity',
      (a) => delete a['commerce.quantity'],
      ['/attributes/commerce.quantity', 'required', '/attributes/commerce.quantity is required'],
    ],
  ],
  'commerce.checkout': [
    [
      'missing the currency',
      (a) => delete a['commerce.currency'],
      ['/attributes/commerce.currency', 'required', '/attributes/commerce.currency is required'],
    ],
    [
      'a negative value',
      (a) => {
        a['commerce.value'] = -10;
      },
      ['/attributes/commerce.value', 'minimum', '/attributes/commerce.value must be >= 0'],
    ],
    [
      'a four-letter currency',
      (a) => {
        a['commerce.currency'] = 'EURO';
      },
      ['/attributes/commerce.currency', 'pattern', '/attributes/commerce.currency must match ^[A-Z]{3}$'],
    ],
  ],
  'booking.slot_hold': [
    [
      'a slot that is not a date-time',
      (a) => {
        a['booking.slot_start'] = 'tomorrow 9am';
      },
      [
        '/attributes/booking.slot_start',
        'format',
        '/attributes/booking.slot_start must be an RFC 3339 date-time with a time zone (e.g. 2025-01-15T10:30:00.123Z)',
      ],
    ],
    [
      'missing the hold',
      (a) => delete a['booking.hold_id'],
      ['/attributes/booking.hold_id', 'required', '/attributes/booking.hold_id is required'],
    ],
    [
      'an expiry that is not a date-time',
      (a) => {
        a['booking.hold_expires_at'] = 15;
      },
      ['/attributes/booking.hold_expires_at', 'type', '/attributes/booking.hold_expires_at must be a string'],
    ],
  ],
  'booking.confirmed': [
    [
      'missing the booking',
      (a) => delete a['booking.booking_id'],
      ['/attributes/booking.booking_id', 'required', '/attributes/booking.booking_id is required'],
    ],
    [
      'missing the hold',
      (a) => delete a['booking.hold_id'],
      ['/attributes/booking.hold_id', 'required', '/attributes/booking.hold_id is required'],
    ],
    [
      'a numeric booking id',
      (a) => {
        a['booking.booking_id'] = 77;
      },
      ['/attributes/booking.booking_id', 'type', '/attributes/booking.booking_id must be a string'],
    ],
  ],
  'system.error': [
    [
      'missing error.type',
      (a) => delete a['error.type'],
      ['/attributes/error.type', 'required', '/attributes/error.type is required'],
    ],
    [
      'an empty error.type',
      (a) => {
        a['error.type'] = '';
      },
      ['/attributes/error.type', 'minLength', '/attributes/error.type must NOT have fewer than 1 characters'],
    ],
    [
      'a numeric message',
      (a) => {
        a['error.message'] = 500;
      },
      ['/attributes/error.message', 'type', '/attributes/error.message must be a string'],
    ],
  ],
};

describe('built-in event types', () => {
  it('covers every built-in type with invalid cases, and no other', () => {
    expect(Object.keys(INVALID).sort()).toEqual(BUILTIN_EVENTS.map((t) => t.name).sort());
    expect(BUILTIN_EVENTS).toHaveLength(16);
  });

  describe.each(BUILTIN_EVENTS.map((t) => [t.name, t] as const))('%s', (name, type) => {
    it('accepts its documented example', () => {
      expect(check(name, type.example)).toEqual([]);
    });
    it('accepts attributes it does not know', () => {
      expect(check(name, { ...type.example, 'acme.extra': 'kept' })).toEqual([]);
    });
    it.each(INVALID[name])('refuses %s', (_label, mutate, [pointer, keyword, message]) => {
      const attributes = structuredClone(type.example);
      mutate(attributes);
      expect(check(name, attributes)).toEqual([[pointer, keyword, message, `builtin:${name}`]]);
    });
  });

  it('refuses an event name that nobody declared', () => {
    expect(check('voice.turn_finished', {})).toEqual([
      [
        '/event_name',
        'unknownEvent',
        '/event_name "voice.turn_finished" is neither a built-in event type nor a schema this tenant has published',
        'registry',
      ],
    ]);
  });
});
