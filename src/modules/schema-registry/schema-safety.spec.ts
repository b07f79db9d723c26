import { linearEngineRefusal, repeatsAlternatives, unsafeSchemaReasons } from './schema-safety';

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
      'a lookahead',
      { type: 'string', pattern: '^(?=.*[0-9])[a-z0-9]+$' },
      '/pattern: the pattern "^(?=.*[0-9])[a-z0-9]+$" uses a lookahead, which the linear-time engine does not support',
    ],
    [
      'a lookbehind in patternProperties',
      { patternProperties: { '(?<!x)y': {} } },
      '/patternProperties: the pattern "(?<!x)y" uses a lookbehind, which the linear-time engine does not support',
    ],
    [
      'a backreference in propertyNames',
      { propertyNames: { pattern: '^(a)\\1$' } },
      '/propertyNames/pattern: the pattern "^(a)\\\\1$" uses a backreference (\\1), which the linear-time engine does not support',
    ],
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

describe('the linear-time engine', () => {
  it.each([
    ['^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*!$', null],
    ['^\\w*\\w*\\w*\\w*\\w*!$', null],
    ['^(?<id>q-[0-9]+)$', null],
    ['^\\p{L}+$', null],
    ['(?!a)b', 'uses a lookahead, which the linear-time engine does not support'],
    ['(?<=a)b', 'uses a lookbehind, which the linear-time engine does not support'],
    ['(a)\\1', 'uses a backreference (\\1), which the linear-time engine does not support'],
    ['(?<n>a)\\k<n>', 'uses a named backreference (\\k<…>), which the linear-time engine does not support'],
    ['^a{1001}$', 'repeats more than 1000 times, which the linear-time engine does not support'],
    ['[^]', 'cannot be compiled by the linear-time engine (missing ]: [^])'],
    ['^\\p{Emoji}+$', 'uses the Unicode property \\p{Emoji}, which the linear-time engine does not support'],
  ])('%s → %s', (p, expected) => {
    expect(linearEngineRefusal(p)).toBe(expected);
  });

  it('accepts the hostile patterns it runs in linear time, which safe-regex2 does not see', () => {
    expect(unsafeSchemaReasons({ type: 'string', pattern: '^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*!$' })).toEqual([]);
    expect(unsafeSchemaReasons({ type: 'object', patternProperties: { '^\\w*\\w*\\w*\\w*\\w*!$': {} } })).toEqual([]);
  });
});
