import { EventError } from './event-error';

export interface PayloadLimits {
  maxDepth: number;
  maxStringLength: number;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const ANY_SURROGATE = /[\ud800-\udfff]/;

function escapePointer(key: string): string {
  return key.includes('~') || key.includes('/') ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key;
}

function badText(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  // Most text has no surrogate at all: one plain scan spares it the look-around expression.
  if (ANY_SURROGATE.test(s) && LONE_SURROGATE.test(s))
    return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
  return null;
}

/**
 * Structural checks that JSON Schema cannot express and storage requires: nesting depth, string
 * length, and text Postgres refuses in jsonb (NUL, unpaired surrogates), in keys as well as values.
 * Runs before schema validation so that no hostile value ever reaches Ajv's messages or the queue.
 * The JSON pointer of a value is only spelled out when it has an error.
 */
export function checkPayload(value: unknown, limits: PayloadLimits): EventError[] {
  const errors: EventError[] = [];
  const path: string[] = []; // escaped segments down to the value being walked
  const at = (): string => (path.length ? `/${path.join('/')}` : '');
  const walk = (v: unknown, depth: number): void => {
    if (errors.length >= 20) return;
    if (typeof v === 'string') {
      const why = badText(v);
      if (why) {
        const pointer = at();
        errors.push({ pointer, keyword: 'text', message: `${pointer || '/'} ${why}` });
      } else if (v.length > limits.maxStringLength) {
        const pointer = at();
        errors.push({
          pointer,
          keyword: 'maxLength',
          message: `${pointer} is ${v.length} characters long; the limit is ${limits.maxStringLength}`,
        });
      }
      return;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        const pointer = at();
        errors.push({ pointer, keyword: 'number', message: `${pointer} is a number too large to represent` });
      }
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (depth >= limits.maxDepth) {
      const pointer = at();
      errors.push({
        pointer,
        keyword: 'maxDepth',
        message: `${pointer} is nested more than ${limits.maxDepth} levels deep`,
      });
      return;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(String(i));
        walk(v[i], depth + 1);
        path.pop();
      }
      return;
    }
    for (const key of Object.keys(v)) {
      const why = badText(key);
      if (why || key.length > 256) {
        const parent = at();
        // eslint-disable-next-line no-control-regex -- NUL is one of the characters a stored key must not keep
        const child = `${parent}/${escapePointer(why ? key.replace(/[\u0000\ud800-\udfff]/g, '\ufffd') : key)}`;
        errors.push(
          why
            ? { pointer: child, keyword: 'propertyName', message: `property name at ${child} ${why}` }
            : {
                pointer: child.slice(0, 64),
                keyword: 'propertyName',
                message: `a property name under ${parent || '/'} is ${key.length} characters long; the limit is 256`,
              },
        );
        continue;
      }
      path.push(escapePointer(key));
      walk((v as Record<string, unknown>)[key], depth + 1);
      path.pop();
    }
  };
  walk(value, 0);
  return errors;
}
