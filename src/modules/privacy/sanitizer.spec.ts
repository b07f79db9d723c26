import { storedEvent } from '../../../test/support/stored-event';
import { LOOK_ALIKES, PLANTED, SENSITIVE_KEYS } from '../../../test/support/pii-corpus';
import { coarsenIp, ibanValid, luhnValid, PII_KINDS, redactText } from './pii-detectors';
import { SanitizerPolicy, sanitizeEvent } from './sanitizer';

const policy: SanitizerPolicy = {
  extraSensitiveKeys: [],
  piiAttributes: new Map(),
  pseudonymizeUserId: false,
  pseudonymize: (v) => `pseudo(${v.length})`,
};
const event = storedEvent;

describe('PII detectors', () => {
  it('checks cards with Luhn and IBANs with mod 97', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(ibanValid('DE89370400440532013000')).toBe(true);
    expect(ibanValid('DE89370400440532013001')).toBe(false);
  });

  it('has planted values of every kind the detectors find, and of every token form', () => {
    expect([...new Set(PLANTED.map((p) => p.kind))].sort()).toEqual([...PII_KINDS, 'secret-key'].sort());
    const tokens = PLANTED.filter((p) => p.kind === 'token').map((p) => p.value);
    const forms = [
      /^Bearer /,
      /^Basic /,
      /^token /,
      /^ak_/,
      /^sk_live_/,
      /^sk_test_/,
      /^pk_live_/,
      /^pk_test_/,
      /^rk_live_/,
      /^rk_test_/,
      /^ghp_/,
      /^gho_/,
      /^ghu_/,
      /^ghs_/,
      /^ghr_/,
      /^AKIA/,
    ];
    for (const form of forms)
      expect([form.source, tokens.filter((v) => form.test(v)).length > 0]).toEqual([form.source, true]);
  });

  it.each(PLANTED.filter((p) => p.kind !== 'secret-key').map((p) => [p.kind, p.value]))(
    'redacts %s %s in free text',
    (kind, value) => {
      const out = redactText(`note: ${value} (see above)`);
      expect(out).not.toContain(value);
      expect(out).toMatch(/\[redacted:[a-z0-9]+\]/);
      if (!['token'].includes(kind)) expect(out).toContain(`[redacted:${kind}]`);
    },
  );

  it.each(LOOK_ALIKES)('leaves %s alone', (value) => {
    expect(redactText(value)).toBe(value);
    expect(redactText(`value ${value} end`)).toBe(`value ${value} end`);
  });

  it('gives the same answer when a value comes again (clean text is remembered, personal data never)', () => {
    for (const p of PLANTED.filter((x) => x.kind !== 'secret-key')) {
      const text = `note: ${p.value}`;
      const first = redactText(text);
      expect(first).not.toContain(p.value);
      expect(redactText(text)).toBe(first);
    }
    for (const value of LOOK_ALIKES) {
      expect(redactText(value)).toBe(value);
      expect(redactText(value)).toBe(value);
    }
  });

  it('coarsens IPs to /24 and /48', () => {
    expect(coarsenIp('203.0.113.77')).toBe('203.0.113.0');
    expect(coarsenIp('2001:db8:85a3:8d3:1319:8a2e:370:7348')).toBe('2001:db8:85a3::');
    expect(coarsenIp('2001:db8::1')).toBe('2001:db8:0::');
    expect(coarsenIp('not an ip')).toBeNull();
  });
});

describe('sanitizeEvent', () => {
  it('redacts everywhere: nested values, arrays, keys, URLs, context, payload', () => {
    const out = sanitizeEvent(
      event({
        attributes: {
          'kb.query': 'mail me at jane@example.com',
          nested: { list: ['call +1 415 555 0134', { deep: '4111 1111 1111 1111' }] },
          'jane@example.com': 1,
        },
        context: {
          page: {
            url: 'https://shop.example.com/account/jane@example.com?token=abc&email=x@y.io#top',
            referrer: 'https://www.google.com/search?q=jane+doe',
          },
          device: { user_agent: 'agent contact: bob@example.org' },
        },
        payload: {
          schema: 'iglu:com.acme/x/jsonschema/1-0-0',
          data: { ip: '203.0.113.77', note: 'from 198.51.100.23' },
        },
      }),
      policy,
    );
    expect(out.attributes).toEqual({
      'kb.query': 'mail me at [redacted:email]',
      nested: { list: ['call [redacted:phone]', { deep: '[redacted:card]' }] },
      '[redacted:email]': 1,
    });
    expect(out.context).toEqual({
      page: { url: '/account/[redacted:email]', referrer: 'www.google.com' },
      device: { user_agent: 'agent contact: [redacted:email]' },
    });
    expect(out.payload).toEqual({
      schema: 'iglu:com.acme/x/jsonschema/1-0-0',
      data: { ip: '203.0.113.0', note: 'from [redacted:ipv4]' },
    });
  });

  it.each(SENSITIVE_KEYS)('redacts the value of %s whatever it holds', (key) => {
    expect(sanitizeEvent(event({ attributes: { [key]: 'plain-looking-value', count: 3 } }), policy).attributes).toEqual(
      { [key]: `[redacted:${key.split('.').pop()!.replace(/-/g, '_')}]`, count: 3 },
    );
  });

  it('keeps a number under an attribute its type declares numeric, whatever its name; redacts one it does not', () => {
    const e = event({
      attributes: {
        'ai.llm.time_to_first_token_ms': 310,
        'x.refresh_token_ms': 5,
        nested: { 'ai.llm.time_to_first_token_ms': 7 },
      },
    });
    const out = sanitizeEvent(e, { ...policy, measurements: new Set(['ai.llm.time_to_first_token_ms']) });
    expect(out.attributes).toEqual({
      'ai.llm.time_to_first_token_ms': 310,
      'x.refresh_token_ms': '[redacted:refresh_token_ms]',
      nested: { 'ai.llm.time_to_first_token_ms': '[redacted:time_to_first_token_ms]' },
    });
    expect(
      sanitizeEvent(event({ attributes: { 'ai.llm.time_to_first_token_ms': 'abc' } }), {
        ...policy,
        measurements: new Set(['ai.llm.time_to_first_token_ms']),
      }).attributes,
    ).toEqual({ 'ai.llm.time_to_first_token_ms': '[redacted:time_to_first_token_ms]' });
  });

  it('keeps counts and names that only look sensitive', () => {
    const attrs = {
      'gen_ai.usage.input_tokens': 512,
      'gen_ai.tool.name': 'navigation.goto',
      'ai.tool.success': true,
      'voice.first_response_ms': 412.5,
    };
    expect(sanitizeEvent(event({ attributes: attrs }), policy).attributes).toEqual(attrs);
  });

  it('truncates long free text, strips query strings from URL values, and applies x-pii and tenant keys', () => {
    const out = sanitizeEvent(
      event({
        attributes: {
          'kb.query': 'q'.repeat(800),
          link: 'https://u:p@docs.example.com/a/b?session=123',
          'acme.customer': 'Jane',
          'acme.member_no': 'M-1',
          'acme.loyalty': 'gold',
        },
      }),
      {
        ...policy,
        extraSensitiveKeys: ['loyalty'],
        piiAttributes: new Map([
          ['acme.customer', 'redact'],
          ['acme.member_no', 'pseudonymize'],
        ]),
      },
    );
    expect((out.attributes['kb.query'] as string).length).toBe(500);
    expect(out.attributes.link).toBe('https://docs.example.com/a/b');
    expect(out.attributes['acme.customer']).toBe('[redacted:x-pii]');
    expect(out.attributes['acme.member_no']).toBe('pseudo(3)');
    expect(out.attributes['acme.loyalty']).toBe('[redacted:loyalty]');
  });

  it('pseudonymizes user ids when the tenant asks, and always when they are personal data', () => {
    expect(sanitizeEvent(event({ user_id: 'u_4821' }), policy).user_id).toBe('u_4821');
    expect(sanitizeEvent(event({ user_id: 'u_4821' }), { ...policy, pseudonymizeUserId: true }).user_id).toBe(
      'pseudo(6)',
    );
    expect(sanitizeEvent(event({ user_id: 'jane@example.com' }), policy).user_id).toBe('pseudo(16)');
  });

  it('does not change its input', () => {
    const input = event({ attributes: { e: 'jane@example.com' } });
    sanitizeEvent(input, policy);
    expect(input.attributes.e).toBe('jane@example.com');
  });
});
