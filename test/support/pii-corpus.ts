/**
 * Planted personal values for privacy tests (at least 200, every kind the sanitizer knows, every
 * token form among them: Bearer, Basic, token, ak_, sk_/pk_/rk_ live and test, gh[pousr]_, AKIA), and
 * legitimate look-alikes that must come through unchanged. Deterministic: no randomness.
 */
function luhnComplete(prefix: string): string {
  for (let d = 0; d <= 9; d++) {
    const digits = prefix + d;
    let sum = 0;
    for (let i = 0; i < digits.length; i++) {
      let x = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) {
        x *= 2;
        if (x > 9) x -= 9;
      }
      sum += x;
    }
    if (sum % 10 === 0) return digits;
  }
  throw new Error('unreachable');
}

function iban(country: string, bban: string): string {
  const numeric = (bban + country + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let r = 0;
  for (const ch of numeric) r = (r * 10 + Number(ch)) % 97;
  return `${country}${String(98 - r).padStart(2, '0')}${bban}`;
}

export interface Planted {
  kind: string;
  value: string;
}

const n = (count: number) => Array.from({ length: count }, (_, i) => i);
const jwtPart = (s: string) => Buffer.from(s).toString('base64url');

export const PLANTED: Planted[] = [
  ...n(30).map((i) => ({
    kind: 'email',
    value: [`jane.doe${i}@example.com`, `j_smith+promo${i}@mail.example.co.uk`, `USER${i}@Sub.Domain.IO`][i % 3],
  })),
  ...n(30).map((i) => ({
    kind: 'phone',
    value: [
      `+1 415 555 ${String(1000 + i).slice(-4)}`,
      `+44 20 7946 0${String(100 + i).slice(-3)}`,
      `(415) 555-${String(2000 + i).slice(-4)}`,
      `415-555-${String(3000 + i).slice(-4)}`,
      `+49 30 123456${i % 10}`,
      `+33 1 23 45 67 ${String(10 + i).slice(-2)}`,
    ][i % 6],
  })),
  ...n(20).map((i) => {
    const card = luhnComplete(
      ['411111111111', '555555555555', '378282246310', '601111111111'][i % 4] + String(100 + i).slice(-3),
    );
    return { kind: 'card', value: i % 2 ? card.replace(/(\d{4})(?=\d)/g, '$1 ') : card };
  }),
  ...n(15).map((i) => ({
    kind: 'iban',
    value: iban(
      ['DE', 'GB', 'FR'][i % 3],
      [
        '3704004405320130' + String(10 + i),
        'NWBK6016133192681' + String(i % 10),
        '2004101005050001' + String(1000000 + i).slice(-7),
      ][i % 3],
    ),
  })),
  ...n(20).map((i) => ({ kind: 'ipv4', value: `${[81, 192, 10, 172, 203][i % 5]}.${20 + i}.${100 + i}.${7 + i}` })),
  ...n(15).map((i) => ({
    kind: 'ipv6',
    value: [
      `2001:db8:85a3::8a2e:370:${(0x7334 + i).toString(16)}`,
      `fe80::1ff:fe23:4567:${(0x890a + i).toString(16)}`,
      `2a02:1234:abcd:${(100 + i).toString(16)}:0:0:0:1`,
    ][i % 3],
  })),
  ...n(15).map((i) => ({
    kind: 'jwt',
    value: `${jwtPart('{"alg":"HS256","typ":"JWT"}')}.${jwtPart(`{"sub":"user-${i}","name":"Jane Doe"}`)}.${'s1gnature'.repeat(3)}${i}`,
  })),
  ...n(10).map((i) => ({ kind: 'token', value: `Bearer abcDEF123ghi456JKL789mno${i}` })),
  ...n(5).map((i) => ({ kind: 'token', value: `ak_${String(i).repeat(12)}_${'Z'.repeat(42)}${i}` })),
  ...n(6).map((i) => ({ kind: 'token', value: `Basic dXNlcjpwYXNzd29yZDEyMzQ1N${i}g==` })),
  ...n(6).map((i) => ({ kind: 'token', value: `token ghijKLMN0123opqrSTUV${i}` })),
  ...n(12).map((i) => ({
    kind: 'token',
    value: `${['sk', 'pk', 'rk'][i % 3]}_${i % 2 ? 'live' : 'test'}_${'51HxQ2eZvKYlo2C0'.slice(i % 4)}${'aB3'.repeat(3)}${i}`,
  })),
  ...n(10).map((i) => ({
    kind: 'token',
    value: `gh${'pousr'[i % 5]}_${'16C7e42F292c6912E7710c838347Ae178B4a'.slice(0, 34)}${String(i).padStart(2, '0')}`,
  })),
  ...n(10).map((i) => ({ kind: 'token', value: `AKIA${String(i).padStart(2, '0')}IOSFODNN7EXAMP` })),
  ...n(20).map((i) => ({
    kind: 'ssn',
    value: `${String(123 + i).padStart(3, '0')}-${String(45 + (i % 50)).padStart(2, '0')}-${String(6789 + i)}`,
  })),
  ...n(20).map((i) => ({ kind: 'secret-key', value: `s3cr3t-value-${i}-qwerty` })),
];

/** Values that resemble personal data but are not, and must be stored exactly as sent. */
export const LOOK_ALIKES: string[] = [
  '123e4567-e89b-12d3-a456-426614174000',
  '00000000-0000-4000-8000-000000000001',
  'order-2025-000123',
  'ORD-2025-11-28-0042',
  'sku_998877',
  '1.2.3',
  'v10.4.1',
  '2.0.0-beta.1',
  '19.99',
  '1299.00',
  '0.89',
  '1500',
  '00:01:30',
  '10:30:00',
  '2025-01-15',
  '2025-01-15T10:30:00.123Z',
  '2026-11-28T15:47:54+01:00',
  'gpt-4o-mini',
  'navigation.goto',
  '8080',
  '404',
  '94107',
  '2025',
  '12345',
  'doc-pricing',
  't-1',
  'call-7',
  'booking b-77 for 2 guests',
  'price 19.99 EUR',
  'latency 412.5 ms',
  'retry in 30 s',
  'build 20251128.3',
  'release 2025.11.28',
  'room 101',
  'abc123def456',
  'deadbeef',
  'a1b2c3d4e5f6',
  'page 3 of 10',
  'item 4111',
  'count 5555',
  'ratio 3:2',
  'score 0.92',
];

/** Sensitive property names whose values are redacted whatever they hold. */
export const SENSITIVE_KEYS = [
  'password',
  'api_key',
  'access_token',
  'secret',
  'authorization',
  'cookie',
  'email',
  'phone',
  'user.password_hash',
  'x-api-token',
];
