import { additionFindings, additionIncompatibilities } from './schema-compat';

const base = {
  type: 'object',
  required: ['quote.id'],
  properties: {
    'quote.id': { type: 'string', maxLength: 64 },
    'quote.value': { type: 'number', minimum: 0, maximum: 1000 },
    'quote.kind': { type: 'string', enum: ['a', 'b'] },
    'quote.items': { type: 'array', items: { type: 'string' }, maxItems: 10 },
    'quote.meta': { type: 'object', properties: { depth: { type: 'integer' } } },
  },
};
const change = (f: (s: any) => void) => {
  const s = JSON.parse(JSON.stringify(base));
  f(s);
  return s;
};

describe('SchemaVer ADDITION compatibility', () => {
  it.each([
    [
      'adding an optional property',
      (s: any) => {
        s.properties['quote.note'] = { type: 'string' };
      },
    ],
    [
      'loosening a bound',
      (s: any) => {
        s.properties['quote.value'].maximum = 5000;
        s.properties['quote.id'].maxLength = 128;
      },
    ],
    [
      'widening a type',
      (s: any) => {
        s.properties['quote.value'].type = ['number', 'string'];
      },
    ],
    [
      'integer to number',
      (s: any) => {
        s.properties['quote.meta'].properties.depth.type = 'number';
      },
    ],
    [
      'growing an enum',
      (s: any) => {
        s.properties['quote.kind'].enum = ['a', 'b', 'c'];
      },
    ],
    [
      'dropping a requirement',
      (s: any) => {
        s.required = [];
      },
    ],
    [
      'removing a declared property while additional properties stay open',
      (s: any) => {
        delete s.properties['quote.kind'];
      },
    ],
    [
      'a maxLength every value of the previous enum meets',
      (s: any) => {
        s.properties['quote.kind'].maxLength = 1;
      },
    ],
    [
      'a type the previous enum already implied',
      (s: any) => {
        delete s.properties['quote.kind'].type;
      },
    ],
    [
      'adding a description',
      (s: any) => {
        s.properties['quote.id'].description = 'x';
      },
    ],
  ])('accepts %s', (_l, f) => {
    expect(additionIncompatibilities(base, change(f))).toEqual([]);
  });

  it.each([
    [
      'a new required property',
      (s: any) => {
        s.properties['quote.note'] = { type: 'string' };
        s.required.push('quote.note');
      },
      '/required: new required property "quote.note"',
    ],
    [
      'a changed type',
      (s: any) => {
        s.properties['quote.value'].type = 'string';
      },
      '/properties/quote.value: type narrowed from "number" to "string"',
    ],
    [
      'number to integer',
      (s: any) => {
        s.properties['quote.value'].type = 'integer';
      },
      '/properties/quote.value: type narrowed from "number" to "integer"',
    ],
    [
      'a removed property where additional properties are closed',
      (s: any) => {
        s.additionalProperties = false;
        delete s.properties['quote.kind'];
      },
      '/properties/quote.kind: property removed (additional properties are closed)',
    ],
    [
      'a tightened maximum',
      (s: any) => {
        s.properties['quote.value'].maximum = 100;
      },
      '/properties/quote.value: maximum tightened from 1000 to 100',
    ],
    [
      'a tightened minimum',
      (s: any) => {
        s.properties['quote.value'].minimum = 1;
      },
      '/properties/quote.value: minimum tightened from 0 to 1',
    ],
    [
      'a new maxLength',
      (s: any) => {
        s.properties['quote.items'].items.maxLength = 1;
      },
      '/properties/quote.items/items: maxLength tightened from none to 1',
    ],
    [
      'a maxLength the previous enum does not meet',
      (s: any) => {
        s.properties['quote.kind'].maxLength = 0;
      },
      '/properties/quote.kind: no longer accepts "a", "b", which the previous version accepted',
    ],
    [
      'a shrunk enum',
      (s: any) => {
        s.properties['quote.kind'].enum = ['a'];
      },
      '/properties/quote.kind: enum lost "b"',
    ],
    [
      'a new pattern',
      (s: any) => {
        s.properties['quote.id'].pattern = '^q';
      },
      '/properties/quote.id: pattern added ("^q"); whether the new version still accepts everything the previous one did cannot be decided',
    ],
    [
      'closing additional properties',
      (s: any) => {
        s.additionalProperties = false;
      },
      '/additionalProperties: closed (was open)',
    ],
    [
      'a nested change',
      (s: any) => {
        s.properties['quote.meta'].properties.depth.minimum = 3;
      },
      '/properties/quote.meta/properties/depth: minimum tightened from none to 3',
    ],
    [
      'array items narrowed',
      (s: any) => {
        s.properties['quote.items'].items.type = 'integer';
      },
      '/properties/quote.items/items: type narrowed from "string" to "integer"',
    ],
  ])('refuses %s, naming it', (_l, f, reason) => {
    const reasons = additionIncompatibilities(base, change(f));
    expect(reasons).toContain(reason);
  });
});

describe('ADDITION compatibility by meaning', () => {
  it('accepts a type added to an enum or const that already implied it', () => {
    const old = { type: 'object', properties: { kind: { enum: ['a', 'b'] }, v: { const: 3 } } };
    const next = {
      type: 'object',
      properties: { kind: { type: 'string', enum: ['a', 'b'] }, v: { type: 'integer', const: 3 } },
    };
    expect(additionFindings(old, next)).toEqual([]);
  });

  it('refuses a type the previous enum did not imply, naming the values', () => {
    const old = { properties: { kind: { enum: ['a', 1] } } };
    const next = { properties: { kind: { type: 'string', enum: ['a', 1] } } };
    expect(additionFindings(old, next)).toEqual([
      {
        pointer: '/properties/kind',
        verdict: 'incompatible',
        message: '/properties/kind: no longer accepts 1, which the previous version accepted',
      },
    ]);
  });

  it('reports what it cannot decide as undecided, with its pointer', () => {
    const old = { properties: { id: { type: 'string' } } };
    const next = { properties: { id: { type: 'string', anyOf: [{ minLength: 1 }, { maxLength: 0 }] } } };
    expect(additionFindings(old, next)).toEqual([
      expect.objectContaining({ pointer: '/properties/id', verdict: 'undecided' }),
    ]);
  });

  it('follows changes into definitions and resolves enums through local references', () => {
    const old = { definitions: { k: { enum: ['x'] } }, properties: { a: { $ref: '#/definitions/k' } } };
    const next = {
      definitions: { k: { type: 'string', enum: ['x'] } },
      properties: { a: { $ref: '#/definitions/k' } },
    };
    expect(additionFindings(old, next)).toEqual([]);
    const narrowed = { definitions: { k: { type: 'integer' } }, properties: { a: { $ref: '#/definitions/k' } } };
    expect(additionIncompatibilities(old, narrowed)).toEqual([
      '/definitions/k: no longer accepts "x", which the previous version accepted',
    ]);
  });
});
