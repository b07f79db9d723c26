/** Event sources the envelope accepts. */
export const EVENT_SOURCES = ['web', 'widget', 'voice_ws', 'server'] as const;

/** Dotted lower-case event names: a namespace and a name, e.g. `voice.turn_started`. */
export const EVENT_NAME_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$';

/** `{"schema": "iglu:vendor/name/jsonschema/M-R-A", "data": {...}}`, as Snowplow's Iglu defines it. */
const SELF_DESCRIBING = {
  type: 'object',
  required: ['schema', 'data'],
  additionalProperties: false,
  properties: { schema: { type: 'string', maxLength: 512 }, data: { type: 'object' } },
} as const;

/**
 * JSON Schema (draft-07) of the event envelope shared by every event type. Its `uuid` and
 * `date-time` formats are those of the Postgres columns the fields land in (EnvelopeValidator's
 * STORABLE_FORMATS), stricter than ajv-formats' own.
 */
export const ENVELOPE_SCHEMA = {
  $id: 'urn:analytics:envelope:1-0-0',
  type: 'object',
  required: ['event_id', 'event_name', 'occurred_at', 'tenant_id', 'source', 'attributes'],
  additionalProperties: false,
  properties: {
    event_id: {
      type: 'string',
      format: 'uuid',
      description:
        'Canonical UUID (8-4-4-4-12 hex digits, any case, stored lower-case) chosen by the client; the idempotency key within the tenant.',
    },
    event_name: {
      type: 'string',
      maxLength: 128,
      pattern: EVENT_NAME_PATTERN,
      description: 'Dotted lower-case type, e.g. voice.turn_started; selects the attribute schema.',
    },
    occurred_at: {
      type: 'string',
      format: 'date-time',
      maxLength: 64,
      description:
        'RFC 3339 with a zone at most 15:59 hours from UTC; at most the clock-skew tolerance ahead, no older than the retention.',
    },
    received_at: { type: 'string', maxLength: 64, description: 'Set by the server; a client value is ignored.' },
    tenant_id: { type: 'string', format: 'uuid', description: 'Canonical UUID; must be the tenant of the credential.' },
    site_id: {
      type: 'string',
      format: 'uuid',
      description: 'Canonical UUID of the site or app the event comes from; a report filter.',
    },
    session_id: {
      type: 'string',
      format: 'uuid',
      description: 'Canonical UUID of the session; the default unit of funnels.',
    },
    user_id: { type: 'string', minLength: 1, maxLength: 256, description: 'Pseudonymous user id.' },
    source: { type: 'string', enum: EVENT_SOURCES, description: 'What sent the event.' },
    attributes: { type: 'object', description: 'Validated against the schema of event_name.' },
    payload: {
      ...SELF_DESCRIBING,
      description: 'A self-describing custom payload, validated against exactly the Iglu schema it names.',
    },
    context: {
      type: 'object',
      description: 'Where and under which consent the event happened.',
      properties: {
        entities: {
          type: 'array',
          maxItems: 20,
          items: SELF_DESCRIBING,
          description: 'Self-describing context entities.',
        },
        page: {
          type: 'object',
          properties: {
            url: { type: 'string', maxLength: 2048 },
            referrer: { type: 'string', maxLength: 2048 },
            title: { type: 'string', maxLength: 1024 },
          },
        },
        device: {
          type: 'object',
          properties: {
            user_agent: { type: 'string', maxLength: 1024 },
            viewport: {
              type: 'object',
              required: ['width', 'height'],
              properties: {
                width: { type: 'integer', minimum: 0, maximum: 100000 },
                height: { type: 'integer', minimum: 0, maximum: 100000 },
              },
            },
          },
        },
        locale: { type: 'string', maxLength: 35 },
        consent: {
          type: 'object',
          properties: { analytics: { type: 'boolean' }, ads: { type: 'boolean' } },
        },
      },
    },
  },
} as const;
