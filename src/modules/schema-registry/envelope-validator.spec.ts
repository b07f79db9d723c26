import { EnvelopeValidator } from './envelope-validator';

const ID = '123e4567-e89b-12d3-a456-426614174000';
const envelope = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_id: ID,
  event_name: 'voice.first_response',
  occurred_at: '2025-01-15T10:30:00.123Z',
  tenant_id: '00000000-0000-4000-8000-00000000000a',
  site_id: '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31',
  session_id: '6f1d4b63-8e3f-4c9a-b2da-1f7e5c3b9a42',
  source: 'server',
  attributes: {},
  ...overrides,
});
const UUID_MESSAGE = (pointer: string) =>
  `${pointer} must be a UUID in canonical form, 8-4-4-4-12 hexadecimal digits joined by hyphens (e.g. 123e4567-e89b-12d3-a456-426614174000), without a urn:uuid: prefix or braces`;

describe('EnvelopeValidator: identifiers as Postgres stores them', () => {
  const v = new EnvelopeValidator();

  it.each(['event_id', 'tenant_id', 'site_id', 'session_id'])(
    'refuses %s in a form Postgres uuid refuses: urn:uuid:, braces, no hyphens, misplaced hyphens, extra text',
    (field) => {
      for (const bad of [
        `urn:uuid:${ID}`,
        `URN:UUID:${ID}`,
        `{${ID}}`,
        ID.replace(/-/g, ''),
        '123e4567e-89b-12d3-a456-426614174000',
        `${ID} `,
        `${ID}\n`,
        `${ID.slice(0, -1)}g`,
      ]) {
        expect(v.validate(envelope({ [field]: bad }))).toEqual([
          { pointer: `/${field}`, keyword: 'format', message: UUID_MESSAGE(`/${field}`), schema: 'envelope' },
        ]);
      }
    },
  );

  it('takes a canonical UUID in any case (the event is stored lower-cased)', () => {
    expect(
      v.validate(envelope({ event_id: ID.toUpperCase(), session_id: 'AbCdEf01-2345-4678-9abc-DEF012345678' })),
    ).toEqual([]);
  });

  it('refuses an offset from UTC Postgres timestamptz refuses (16 hours or more), takes up to 15:59', () => {
    for (const at of ['2025-01-15T10:30:00+16:00', '2025-01-15T10:30:00-23:59', '2025-01-15T10:30:00+2000']) {
      expect(v.validate(envelope({ occurred_at: at }))).toEqual([
        {
          pointer: '/occurred_at',
          keyword: 'format',
          message:
            '/occurred_at must be an RFC 3339 date-time with a time zone (e.g. 2025-01-15T10:30:00.123Z), at most 15:59 hours from UTC',
          schema: 'envelope',
        },
      ]);
    }
    for (const at of [
      '2025-01-15T10:30:00+15:59',
      '2025-01-15T10:30:00-12:00',
      '2025-01-15T10:30:00+05:30',
      '2025-01-15t10:30:00z',
    ])
      expect(v.validate(envelope({ occurred_at: at }))).toEqual([]);
  });
});
