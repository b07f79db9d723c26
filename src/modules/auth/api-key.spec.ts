import { generateApiKey, grants, parseApiKey, parseScopes, secretMatches } from './api-key';

describe('API keys', () => {
  it('generates recognizable keys that parse back to their id and match their stored hash only', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).toMatch(/^ak_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(a.id).not.toBe(b.id);
    const parsed = parseApiKey(a.key)!;
    expect(parsed.id).toBe(a.id);
    expect(secretMatches(parsed.secret, a.secretHash)).toBe(true);
    expect(secretMatches(parseApiKey(b.key)!.secret, a.secretHash)).toBe(false);
    expect(a.secretHash).toHaveLength(32);
  });

  it.each([
    '',
    'ak_',
    'Bearer x',
    'ak_0123456789ab_short',
    'ak_0123456789AB_' + 'a'.repeat(43),
    'xk_0123456789ab_' + 'a'.repeat(43),
  ])('refuses a malformed key %j', (k) => expect(parseApiKey(k)).toBeNull());

  it('lets admin do everything and keeps ingest and report apart', () => {
    expect(grants(['admin'], 'report')).toBe(true);
    expect(grants(['admin'], 'ingest')).toBe(true);
    expect(grants(['ingest'], 'report')).toBe(false);
    expect(grants(['report'], 'ingest')).toBe(false);
    expect(grants(['report'], 'admin')).toBe(false);
  });

  it('parses scope lists and names an unknown scope', () => {
    expect(parseScopes('ingest, report ingest')).toEqual(['ingest', 'report']);
    expect(() => parseScopes('ingest,write')).toThrow(
      'scopes must be a comma-separated list of ingest, report, admin (got "ingest,write")',
    );
    expect(() => parseScopes('')).toThrow();
  });
});
