import { EnvelopeValidator } from '../schema-registry/envelope-validator';
import { AssessmentRules, assessEvent } from './event-assessment';

const validator = new EnvelopeValidator();
const validate = { envelope: (e: unknown) => validator.validate(e), content: () => [] };
const rules: AssessmentRules = {
  maxDepth: 8,
  maxStringLength: 100,
  clockSkewToleranceMs: 3_600_000,
  retentionDays: 10,
};
const NOW = new Date('2026-11-28T12:00:00.000Z');

const valid = () => ({
  event_id: '123E4567-E89B-12D3-A456-426614174000',
  event_name: 'voice.turn_started',
  occurred_at: '2026-11-28T11:59:00.123456z',
  tenant_id: '0B9D6F1E-5C1A-4A53-9F43-2C1E8A7D9B10',
  source: 'voice_ws',
  attributes: { 'voice.turn_id': 't1' },
});

describe('assessEvent', () => {
  it('accepts a valid event and normalizes ids, timestamp notation and received_at', () => {
    const a = assessEvent(valid(), validate, rules, NOW);
    expect(a).toEqual({
      ok: true,
      event: {
        event_id: '123e4567-e89b-12d3-a456-426614174000',
        event_name: 'voice.turn_started',
        occurred_at: '2026-11-28T11:59:00.123456Z',
        received_at: '2026-11-28T12:00:00.000Z',
        tenant_id: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10',
        site_id: null,
        session_id: null,
        user_id: null,
        source: 'voice_ws',
        attributes: { 'voice.turn_id': 't1' },
        context: null,
        payload: null,
      },
    });
  });

  it('ignores a client received_at', () => {
    const a = assessEvent({ ...valid(), received_at: '2000-01-01T00:00:00Z' }, validate, rules, NOW);
    expect(a.ok && a.event.received_at).toBe(NOW.toISOString());
  });

  it('lists every envelope error at once, each with pointer, keyword and message', () => {
    const a = assessEvent(
      { ...valid(), event_id: 'nope', source: 'tv', attributes: 3, tenant_id: undefined },
      validate,
      rules,
      NOW,
    );
    expect(a.ok).toBe(false);
    if (a.ok) return;
    expect(a.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/tenant_id', keyword: 'required', message: '/tenant_id is required', schema: 'envelope' },
        {
          pointer: '/event_id',
          keyword: 'format',
          message:
            '/event_id must be a UUID in canonical form, 8-4-4-4-12 hexadecimal digits joined by hyphens (e.g. 123e4567-e89b-12d3-a456-426614174000), without a urn:uuid: prefix or braces',
          schema: 'envelope',
        },
        {
          pointer: '/source',
          keyword: 'enum',
          message: '/source must be one of web, widget, voice_ws, server',
          schema: 'envelope',
        },
        { pointer: '/attributes', keyword: 'type', message: '/attributes must be an object', schema: 'envelope' },
      ]),
    );
    expect(a.errors).toHaveLength(4);
    expect(a.eventId).toBeNull(); // "nope" is not echoed back as an id
  });

  it.each([
    ['exactly at the skew limit', '2026-11-28T13:00:00.000Z', true],
    ['just past the skew limit', '2026-11-28T13:00:00.001Z', false],
    ['exactly at the retention limit', '2026-11-18T12:00:00.000Z', true],
    ['just before the retention limit', '2026-11-18T11:59:59.999Z', false],
  ])('time window: %s', (_label, occurred_at, ok) => {
    expect(assessEvent({ ...valid(), occurred_at }, validate, rules, NOW).ok).toBe(ok);
  });

  it('names the rule that refused a time', () => {
    const future = assessEvent({ ...valid(), occurred_at: '2026-11-28T15:00:00Z' }, validate, rules, NOW);
    const old = assessEvent({ ...valid(), occurred_at: '2026-01-01T00:00:00Z' }, validate, rules, NOW);
    expect(!future.ok && future.errors).toEqual([
      {
        pointer: '/occurred_at',
        keyword: 'clockSkew',
        message: '/occurred_at is 3 h in the future; at most 1 h of clock skew is tolerated',
      },
    ]);
    expect(!old.ok && old.errors).toEqual([
      {
        pointer: '/occurred_at',
        keyword: 'retention',
        message: '/occurred_at is older than the retention window of 10 days',
      },
    ]);
  });

  it('refuses a date that does not exist', () => {
    const a = assessEvent({ ...valid(), occurred_at: '2026-02-30T10:00:00Z' }, validate, rules, NOW);
    expect(a.ok).toBe(false);
    expect(!a.ok && a.errors[0].pointer).toBe('/occurred_at');
  });

  it.each([
    ['a string', 'x'],
    ['an array', []],
    ['null', null],
  ])('refuses %s as an event', (_l, raw) => {
    expect(assessEvent(raw, validate, rules, NOW)).toEqual({
      ok: false,
      eventId: null,
      errors: [{ pointer: '', keyword: 'type', message: 'the event must be a JSON object' }],
    });
  });

  it('returns the normalized event for quarantine when only the content schemas fail', () => {
    const contentError = {
      pointer: '/attributes/x',
      keyword: 'type',
      message: '/attributes/x must be a number',
      schema: 'builtin:voice.turn_started',
    };
    const a = assessEvent(valid(), { ...validate, content: () => [contentError] }, rules, NOW);
    expect(a).toMatchObject({
      ok: false,
      eventId: '123e4567-e89b-12d3-a456-426614174000',
      errors: [contentError],
      quarantine: { event_name: 'voice.turn_started' },
    });
    const late = assessEvent(
      { ...valid(), occurred_at: '2020-01-01T00:00:00Z' },
      { ...validate, content: () => [contentError] },
      rules,
      NOW,
    );
    expect(late).not.toHaveProperty('quarantine'); // a time-window refusal is final
  });

  it('runs the structural guard before the schema', () => {
    const a = assessEvent({ ...valid(), attributes: { s: 'y'.repeat(101) } }, validate, rules, NOW);
    expect(!a.ok && a.errors).toEqual([
      {
        pointer: '/attributes/s',
        keyword: 'maxLength',
        message: '/attributes/s is 101 characters long; the limit is 100',
      },
    ]);
  });
});
