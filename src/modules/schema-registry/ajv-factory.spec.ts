import RE2 from 're2';
import { createAjv, LINEAR_REGEXP } from './ajv-factory';
import { EnvelopeValidator } from './envelope-validator';
import { EventValidator } from './event-validator';
import { TenantSchemaSet } from './tenant-schema-set';

const HOSTILE = '^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*!$'; // polynomial backtracking on a backtracking engine, linear on RE2
const v1 = { model: 1, revision: 0, addition: 0 };

describe('createAjv: patterns run on RE2', () => {
  it('passes the RE2 class to Ajv as its regExp engine', () => {
    expect(LINEAR_REGEXP).toBe(RE2);
    expect(createAjv().opts.code.regExp).toBe(RE2);
    expect(LINEAR_REGEXP('^a+$', 'u')).toBeInstanceOf(RE2);
  });

  it('answers the hostile pattern on an 8,192-character string: false, with the pattern error', () => {
    const validate = createAjv().compile({ type: 'string', pattern: HOSTILE });
    expect(validate('a'.repeat(8192))).toBe(false);
    expect(validate.errors).toEqual([
      expect.objectContaining({ instancePath: '', keyword: 'pattern', params: { pattern: HOSTILE } }),
    ]);
    expect(validate('a'.repeat(8191) + '!')).toBe(true);
  });

  it('matches with RE2 semantics, not V8 ones: the compiled validator does not use the native engine', () => {
    // \s is ASCII whitespace in RE2 and Unicode whitespace in V8; "." matches "\r" in RE2 only.
    expect(/^\s$/u.test('\u00a0')).toBe(true);
    expect(createAjv().compile({ type: 'string', pattern: '^\\s$' })('\u00a0')).toBe(false);
    expect(/^.$/u.test('\r')).toBe(false);
    expect(createAjv().compile({ type: 'string', pattern: '^.$' })('\r')).toBe(true);
  });

  it('cannot compile a lookahead or a backreference, as RE2 cannot', () => {
    expect(() => createAjv().compile({ type: 'string', pattern: '^(?=a)a+$' })).toThrow('invalid perl operator: (?=');
    expect(() => createAjv().compile({ type: 'string', pattern: '^(a)\\1$' })).toThrow('invalid escape sequence: \\1');
    expect(() => createAjv().compile({ type: 'object', patternProperties: { '^(?!x)': { type: 'number' } } })).toThrow(
      'invalid perl operator: (?!',
    );
  });

  it('runs patternProperties keys and propertyNames patterns on RE2 too', () => {
    const key = 'a'.repeat(256);
    const byKey = createAjv().compile({
      type: 'object',
      patternProperties: { '^\\w*\\w*\\w*\\w*\\w*!$': { type: 'number' } },
      additionalProperties: false,
    });
    expect(byKey({ [key]: 1 })).toBe(false);
    expect(byKey.errors?.map((e) => e.keyword)).toEqual(['additionalProperties']);
    expect(byKey({ [key + '!']: 1 })).toBe(true);

    const names = createAjv().compile({ type: 'object', propertyNames: { pattern: HOSTILE } });
    expect(names({ [key]: 1 })).toBe(false);
    expect(names.errors?.map((e) => e.keyword)).toEqual(['pattern', 'propertyNames']);
  });

  it('only parses the data of format "regex", never runs it', () => {
    const validate = createAjv().compile({ type: 'string', format: 'regex' });
    expect(validate('(a*)*'.repeat(1600) + 'b')).toBe(true); // 8,001 characters, exponential if ever run
    expect(validate('(')).toBe(false);
  });

  it('compiles tenant schemas through it', () => {
    const set = new TenantSchemaSet([
      {
        name: 'acme.hostile',
        kind: 'event',
        version: v1,
        schema: { type: 'object', properties: { s: { type: 'string', pattern: HOSTILE } } },
      },
    ]);
    const validate = set.latestEvent('acme.hostile')!.validate;
    expect(validate({ s: 'a'.repeat(8192) })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ instancePath: '/s', keyword: 'pattern' });
  });

  it('fails the events of a stored schema RE2 cannot compile with the reason, rather than throwing', () => {
    const set = new TenantSchemaSet([
      {
        name: 'acme.old',
        kind: 'event',
        version: v1,
        schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(?=a)a+$' } } },
      },
    ]);
    const errors = new EventValidator(new EnvelopeValidator()).content(
      { event_name: 'acme.old', attributes: { s: 'aaa' } },
      set,
    );
    expect(errors).toEqual([
      {
        pointer: '/attributes',
        keyword: 'schemaUnusable',
        schema: 'acme.old/1-0-0',
        message:
          '/attributes cannot be checked: schema acme.old/1-0-0 does not compile on the linear-time pattern engine (invalid perl operator: (?=); publish a version without it',
      },
    ]);
  });
});
