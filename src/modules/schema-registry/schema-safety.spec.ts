import { linearEngineRefusal, reviewSchema, unsafeSchemaReasons } from './schema-safety';
import { IGLU_META_SCHEMA } from './self-describing';

describe('hostile schemas', () => {
  it('accepts an ordinary object schema with local refs and a safe pattern', async () => {
    expect(
      await unsafeSchemaReasons({
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
      '/pattern: the pattern "^(a+)+$" can take exponential time on a backtracking engine',
    ],
    [
      'an exponential patternProperties key',
      { patternProperties: { '(x*)*y': {} } },
      '/patternProperties: the pattern "(x*)*y" can take exponential time on a backtracking engine',
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
      '/requird: unknown keyword "requird", which validation would ignore',
    ],
    ['an unknown format', { type: 'string', format: 'colour' }, 'unknown format "colour"'],
    [
      'another draft',
      { $schema: 'https://json-schema.org/draft/2020-12/schema' },
      '/$schema: must be absent, a JSON Schema draft-04, -06 or -07 meta-schema',
    ],
    [
      'a local $ref to nothing',
      { properties: { a: { $ref: '#/definitions/b' } } },
      '/properties/a/$ref: #/definitions/b does not point at anything in the schema',
    ],
    [
      'an if without then or else',
      { if: { type: 'string' } },
      'strict mode: "if" without "then" and "else" is ignored',
    ],
    ['a nested self', { properties: { a: { self: {} } } }, '/properties/a/self: unknown keyword "self"'],
  ])('refuses %s', async (_l, schema, reason) => {
    expect((await unsafeSchemaReasons(schema)).join('\n')).toContain(reason);
  });

  it('lists every reason at once', async () => {
    const { reasons } = await reviewSchema({
      $schema: 'http://example.com/mine#',
      type: 'object',
      self: { vendor: 'com.acme', name: 'x', format: 'jsonschema', version: '1-0-0' },
      properties: {
        a: { type: 'string', pattern: '^(a+)+$' },
        b: { type: 'string', format: 'colour' },
        c: { $ref: 'https://evil.example/s.json' },
      },
    });
    expect(reasons).toEqual([
      expect.stringMatching(/^\/\$schema: must be absent/),
      '/properties/c/$ref: only references inside the schema (#/…) are allowed, not https://evil.example/s.json',
      expect.stringMatching(/^\/properties\/b\/format: unknown format "colour"/),
      expect.stringMatching(/^\/properties\/a\/pattern: the pattern "\^\(a\+\)\+\$" can take exponential time/),
    ]);
  });
});

describe('self-describing schemas and older drafts', () => {
  const self = { vendor: 'com.acme', name: 'checkout', format: 'jsonschema', version: '1-0-0' };

  it('accepts the Iglu meta-schema with its self block, and draft-04 style keywords', async () => {
    expect(
      await reviewSchema({
        $schema: IGLU_META_SCHEMA,
        self,
        type: 'object',
        properties: {
          total: { type: 'number', minimum: 0, exclusiveMinimum: true },
          pct: { type: 'number', maximum: 100, exclusiveMaximum: false },
        },
        additionalProperties: false,
      }),
    ).toEqual({ reasons: [], warnings: [] });
    expect(await unsafeSchemaReasons({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' })).toEqual(
      [],
    );
  });

  it('validates the self block as the meta-schema says', async () => {
    expect(await unsafeSchemaReasons({ $schema: IGLU_META_SCHEMA, type: 'object' })).toEqual([
      '/self: required by the self-describing meta-schema (vendor, name, format, version)',
    ]);
    expect(
      await unsafeSchemaReasons({
        $schema: IGLU_META_SCHEMA,
        self: { ...self, version: '1.0', extra: 1 },
        type: 'object',
      }),
    ).toEqual([
      '/self/version: must be a string matching ^[0-9]+-[0-9]+-[0-9]+$',
      '/self/extra: not allowed by the self-describing meta-schema',
    ]);
  });

  it('warns of strict-mode style rules instead of refusing', async () => {
    const review = await reviewSchema({
      type: 'object',
      properties: { pair: { type: 'array', items: [{ type: 'string' }] }, nested: { required: ['a'] } },
    });
    expect(review.reasons).toEqual([]);
    expect(review.warnings).toEqual([
      expect.stringContaining('"items" is 1-tuple, but minItems or maxItems/additionalItems are not specified'),
      expect.stringContaining('missing type "object" for keyword "required"'),
    ]);
  });

  it('refuses a draft-04 exclusive bound without its bound', async () => {
    expect(await unsafeSchemaReasons({ type: 'number', exclusiveMinimum: true })).toEqual([
      '/exclusiveMinimum: true (draft-04 style) needs a numeric minimum beside it',
    ]);
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

  it('accepts linear patterns a star-height rule refused, and refuses super-linear ones', async () => {
    expect(
      await unsafeSchemaReasons({
        type: 'string',
        pattern: '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$|^[0-9a-f]{16}$',
      }),
    ).toEqual([]);
    expect(
      await unsafeSchemaReasons({
        type: 'string',
        pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
      }),
    ).toEqual([]);
    expect(await unsafeSchemaReasons({ type: 'string', pattern: '^(x|y)+$' })).toEqual([]);
    expect(await unsafeSchemaReasons({ type: 'string', pattern: '^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*!$' })).toEqual([
      expect.stringMatching(/^\/pattern: the pattern .* can take polynomial \(.*\) time on a backtracking engine/),
    ]);
  });
});
