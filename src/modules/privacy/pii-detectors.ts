/**
 * Detectors of personal data in free text. Each finds candidates with a regular expression and,
 * where a checksum exists (cards: Luhn; IBANs: ISO 7064 mod 97), keeps only valid ones, so that
 * ids, prices and timestamps that merely look similar pass untouched.
 */
export type PiiKind = 'email' | 'jwt' | 'token' | 'card' | 'iban' | 'ssn' | 'ipv4' | 'ipv6' | 'phone';

interface Detector {
  kind: PiiKind;
  pattern: RegExp;
  accept?: (match: string) => boolean;
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length >= 13 && sum % 10 === 0;
}

export function ibanValid(candidate: string): boolean {
  const s = candidate.replace(/\s+/g, '').toUpperCase();
  if (s.length < 15 || s.length > 34) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const v = ch >= 'A' && ch <= 'Z' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of v) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

const digitsOf = (s: string) => s.replace(/\D/g, '');

// Order matters: structured secrets first, then numbers with checksums, then addresses, then phones.
const DETECTORS: Detector[] = [
  { kind: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  {
    kind: 'token',
    pattern:
      /\b(?:bearer|basic|token)\s+[A-Za-z0-9._~+/-]{16,}=*|\bak_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\b|\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bAKIA[0-9A-Z]{16}\b/gi,
  },
  { kind: 'email', pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g },
  { kind: 'iban', pattern: /\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b/g, accept: ibanValid },
  { kind: 'card', pattern: /(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])/g, accept: (m) => luhnValid(digitsOf(m)) },
  { kind: 'ssn', pattern: /(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])/g },
  {
    kind: 'ipv6',
    pattern:
      /(?<![\w:])(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]{1,4}:){1,7}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?|::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4})(?![\w:])/g,
    accept: (m) => /[a-fA-F]/.test(m) || m.includes('::') || m.split(':').length === 8,
  },
  {
    kind: 'ipv4',
    pattern: /(?<![\d.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\d.])/g,
  },
  {
    kind: 'phone',
    pattern:
      /(?<![\w+.-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}[ .-]\d{3}[ .-]\d{4})(?![\w.-])/g,
    accept: (m) => {
      const n = digitsOf(m).length;
      return n >= 9 && n <= 15;
    },
  },
];

/** Every kind of value the detectors find, in the order they run. */
export const PII_KINDS: readonly PiiKind[] = DETECTORS.map((d) => d.kind);

// Values that look like personal data to a regex but are not: protected before detection.
const PROTECTED =
  /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g;

/** Replaces every detected value with `[redacted:<kind>]`. */
// Every detector needs a digit, an "@" or a token marker: text with none of them cannot match.
const MAYBE_PII = /[0-9@]|bearer|basic|token|eyJ|ak_|AKIA|gh[pousr]_|[sprk]k_(?:live|test)|::/i;

export function redactText(text: string): string {
  if (text.length < 5 || !MAYBE_PII.test(text)) return text;
  if (clean.has(text)) return text;
  const shelf: string[] = [];
  let out = text.replace(PROTECTED, (m) => `\u0001${shelf.push(m) - 1}\u0002`);
  for (const d of DETECTORS) {
    out = out.replace(d.pattern, (m) => {
      if (d.accept && !d.accept(m)) return m;
      return `[redacted:${d.kind}]`;
    });
  }
  // eslint-disable-next-line no-control-regex -- \u0001…\u0002 delimit the placeholders of shelved spans
  if (shelf.length) out = out.replace(/\u0001(\d+)\u0002/g, (_, i) => shelf[Number(i)]);
  if (out === text && text.length <= CLEAN_MAX_LENGTH) {
    if (clean.size >= CLEAN_MAX_ENTRIES) clean.clear();
    clean.add(text);
  }
  return out;
}

/**
 * Short strings the detectors found nothing in. Values repeat from event to event (model names,
 * user agents, versions, ids with digits), and each would otherwise run every detector again: about
 * a sixth of the api's CPU in batches. Only text found clean is remembered, so no personal data
 * is kept by it; bounded, since clients may send endless distinct values.
 */
const clean = new Set<string>();
const CLEAN_MAX_LENGTH = 200;
const CLEAN_MAX_ENTRIES = 50_000;

/** An IP address kept for its network only: IPv4 to /24, IPv6 to /48. Null when it is not one. */
export function coarsenIp(value: string): string | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value.trim());
  if (v4 && v4.slice(1).every((o) => Number(o) <= 255)) return `${v4[1]}.${v4[2]}.${v4[3]}.0`;
  if (/^[0-9a-fA-F:]+$/.test(value) && value.includes(':')) {
    const [head, tail] = value.split('::');
    const headParts = head ? head.split(':') : [];
    const tailParts = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const missing = 8 - headParts.length - tailParts.length;
    if (value.includes('::') ? missing < 1 : headParts.length !== 8) return null;
    const groups = [...headParts, ...Array<string>(value.includes('::') ? missing : 0).fill('0'), ...tailParts];
    return `${groups
      .slice(0, 3)
      .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
      .join(':')}::`;
  }
  return null;
}
