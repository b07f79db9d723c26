import { repeatsAlternatives, unsafeSchemaReasons } from './schema-safety';

describe('hostile schemas', () => {
  it('accepts an ordinary object schema with local refs and a safe pattern', () => {
    expect(
      unsafeSchemaReasons({
        type: 'object',
        required: ['quote.id'],
        properties: {
          'quote.id': { type: 'string', pattern: '^q-[0-9]+$' },
          'quote.line': { $ref: '#/definitions/line' },
        },
        definitions: { line: { type: 'object', properties: { sku: { type: 'string' } } } },
      }),
    ).toEqual([]);
  });

  it.each([
    ['not an object', [1], 'the schema must be a JSON object'],
    [
      'a remote $ref',
      { properties: { a: { $ref: 'https://evil.example/s.json' } } },
      '/properties/a/$ref: only references inside the schema (#/…) are allowed, not https://evil.example/s.json',
    ],
    [
      'an exponential regex',
      { type: 'string', pattern: '^(a+)+$' },
      '/pattern: the pattern "^(a+)+$" can take exponential time (nested quantifiers)',
    ],
    [
      'an exponential patternProperties key',
      { patternProperties: { '(x*)*y': {} } },
      '/patternProperties: the pattern "(x*)*y" can take exponential time (nested quantifiers)',
    ],
    ['an invalid regex', { type: 'string', pattern: '(' }, '/pattern: not a valid regular expression'],
    [
      'a deep schema',
      JSON.parse('{"properties":{"a":'.repeat(20) + '{}' + '}}'.repeat(20)),
      'nested deeper than 32 levels',
    ],
    ['a huge schema', { enum: Array.from({ length: 20000 }, (_, i) => `value-${i}`) }, 'bytes; the limit is 65536'],
    ['a meta-schema violation', { type: 'strang' }, '/type: must be equal to one of the allowed values (meta-schema)'],
    [
      'an unknown keyword',
      { type: 'object', requird: ['a'] },
      'the schema does not compile: strict mode: unknown keyword: "requird"',
    ],
    ['an unknown format', { type: 'string', format: 'colour' }, 'unknown format "colour"'],
    [
      'another draft',
      { $schema: 'https://json-schema.org/draft/2020-12/schema' },
      '$schema must be http://json-schema.org/draft-07/schema# or absent',
    ],
  ])('refuses %s', (_l, schema, reason) => {
    expect(unsafeSchemaReasons(schema).join('\n')).toContain(reason);
  });
});

describe('repeated alternatives', () => {
  it.each([
    ['^(a|aa)+$', true],
    ['(x|y)*', true],
    ['(?:ab|a){2,}', true],
    ['(a|b)', false],
    ['^q-[0-9]+$', false],
    ['[(|)]+', false],
    ['\\(a|b\\)+', false],
    ['(a|b){2}', false],
  ])('%s → %s', (p, expected) => {
    expect(repeatsAlternatives(p)).toBe(expected);
  });
});
