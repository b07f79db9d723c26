import { EventError } from './event-error';

export interface PayloadLimits {
  maxDepth: number;
  maxStringLength: number;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function escapePointer(key: string): string {
  return key.includes('~') || key.includes('/') ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key;
}

function badText(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
  return null;
}

/**
 * Structural checks that JSON Schema cannot express and storage requires: nesting depth, string
 * length, and text Postgres refuses in jsonb (NUL, unpaired surrogates), in keys as well as values.
 * Runs before schema validation so that no hostile value ever reaches Ajv's messages or the queue.
 */
export function checkPayload(value: unknown, limits: PayloadLimits): EventError[] {
  const errors: EventError[] = [];
  const walk = (v: unknown, pointer: string, depth: number): void => {
    if (errors.length >= 20) return;
    if (typeof v === 'string') {
      const why = badText(v);
      if (why) errors.push({ pointer, keyword: 'text', message: `${pointer || '/'} ${why}` });
      else if (v.length > limits.maxStringLength) {
        errors.push({ pointer, keyword: 'maxLength', message: `${pointer} is ${v.length} characters long; the limit is ${limits.maxStringLength}` });
      }
      return;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) errors.push({ pointer, keyword: 'number', message: `${pointer} is a number too large to represent` });
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (depth >= limits.maxDepth) {
      errors.push({ pointer, keyword: 'maxDepth', message: `${pointer} is nested more than ${limits.maxDepth} levels deep` });
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, `${pointer}/${i}`, depth + 1));
      return;
    }
    for (const key of Object.keys(v)) {
      const why = badText(key);
      const child = `${pointer}/${escapePointer(why ? key.replace(/[\u0000\ud800-\udfff]/g, '\ufffd') : key)}`;
      if (why) {
        errors.push({ pointer: child, keyword: 'propertyName', message: `property name at ${child} ${why}` });
        continue;
      }
      if (key.length > 256) {
        errors.push({ pointer: child.slice(0, 64), keyword: 'propertyName', message: `a property name under ${pointer || '/'} is ${key.length} characters long; the limit is 256` });
        continue;
      }
      walk((v as Record<string, unknown>)[key], child, depth + 1);
    }
  };
  walk(value, '', 0);
  return errors;
}
