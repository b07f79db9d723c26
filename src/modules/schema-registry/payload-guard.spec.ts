import { checkPayload } from './payload-guard';

const limits = { maxDepth: 4, maxStringLength: 10 };

describe('checkPayload', () => {
  it('passes ordinary JSON untouched', () => {
    expect(checkPayload({ a: 'ok', b: [1, 2, { c: true, d: null }], 'é😀': 'ünï😀' }, limits)).toEqual([]);
  });

  it('finds NUL bytes in values and keys, with JSON pointers escaped per RFC 6901', () => {
    const errors = checkPayload({ 'a/b': { '~k': 'x\u0000' }, ['n\u0000']: 1 }, limits);
    expect(errors.map((e) => [e.pointer, e.keyword])).toEqual([
      ['/a~1b/~0k', 'text'],
      ['/n\ufffd', 'propertyName'],
    ]);
  });

  it('finds unpaired surrogates but accepts paired ones', () => {
    expect(checkPayload({ ok: '\ud83d\ude00', bad: '\ude00x' }, limits).map((e) => e.pointer)).toEqual(['/bad']);
  });

  it('bounds depth', () => {
    expect(checkPayload({ a: { b: { c: { d: 1 } } } }, limits)).toEqual([]);
    expect(checkPayload({ a: { b: { c: { d: { e: 1 } } } } }, limits)).toEqual([
      { pointer: '/a/b/c/d', keyword: 'maxDepth', message: '/a/b/c/d is nested more than 4 levels deep' },
    ]);
    expect(checkPayload([[[[[1]]]]], limits)[0].keyword).toBe('maxDepth');
  });

  it('bounds string length and refuses numbers that overflowed to Infinity', () => {
    expect(
      checkPayload({ s: '12345678901', n: Infinity, m: 1e308 }, limits).map((e) => [e.pointer, e.keyword]),
    ).toEqual([
      ['/s', 'maxLength'],
      ['/n', 'number'],
    ]);
  });

  it('stops collecting after 20 errors', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x\u0000']));
    expect(checkPayload(many, limits)).toHaveLength(20);
  });
});
