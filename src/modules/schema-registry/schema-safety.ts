import { isJsonObject } from '../../common/validation';
import safeRegex from 'safe-regex2';
import { createAjv, LINEAR_REGEXP } from './ajv-factory';

/**
 * Whether a group holding alternatives is repeated, e.g. `(a|aa)+`: overlapping alternatives under
 * a quantifier backtrack exponentially, which a star-height check does not see. Conservative: it
 * also refuses harmless forms like `(x|y)+`, which a character class expresses better.
 */
export function repeatsAlternatives(pattern: string): boolean {
  const stack: boolean[] = []; // per open group: does it contain a top-level "|"?
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push(false);
    else if (c === '|' && stack.length) stack[stack.length - 1] = true;
    else if (c === ')') {
      const hadAlternatives = stack.pop() ?? false;
      const next = pattern[i + 1];
      if (
        hadAlternatives &&
        (next === '*' || next === '+' || (next === '{' && /^\{\d*,\d*\}|^\{\d{2,}\}/.test(pattern.slice(i + 1))))
      )
        return true;
    }
  }
  return false;
}

const UNSUPPORTED = 'which the linear-time engine does not support';

/**
 * Why RE2, the engine every validator runs patterns on, cannot compile a pattern that is valid
 * ECMAScript, or null when it can. What it refuses are the features that cannot be matched in
 * linear time (lookarounds, backreferences), repetition counts above 1000, and a few it does not
 * implement (`[^]`, `[\b]`, Unicode properties other than general categories and scripts).
 */
export function linearEngineRefusal(pattern: string): string | null {
  try {
    LINEAR_REGEXP(pattern, 'u');
    return null;
  } catch (err) {
    const message = (err as Error).message;
    if (/\(\?<[=!]/.test(message)) return `uses a lookbehind, ${UNSUPPORTED}`;
    if (/\(\?[=!]/.test(message)) return `uses a lookahead, ${UNSUPPORTED}`;
    const escape = /escape sequence: (\\[1-9k])/.exec(message);
    if (escape)
      return escape[1] === '\\k'
        ? `uses a named backreference (\\k<…>), ${UNSUPPORTED}`
        : `uses a backreference (${escape[1]}), ${UNSUPPORTED}`;
    if (/repetition size/.test(message)) return `repeats more than 1000 times, ${UNSUPPORTED}`;
    const property = /class range: (\\[pP]\{[^}]*\})/.exec(message);
    if (property) return `uses the Unicode property ${property[1]}, ${UNSUPPORTED}`;
    return `cannot be compiled by the linear-time engine (${message})`;
  }
}

export const SCHEMA_LIMITS = { maxBytes: 64 * 1024, maxDepth: 32, maxPatternLength: 512 };

/**
 * Reasons a tenant's schema may not be published: it must be a valid draft-07 JSON Schema that
 * compiles in strict mode, reference nothing outside itself, use only regular expressions that the
 * linear-time engine (RE2) compiles and that would not backtrack exponentially on a backtracking
 * engine either (a second line: validation runs every pattern on RE2), and stay within size and
 * depth limits.
 */
export function unsafeSchemaReasons(schema: unknown): string[] {
  if (!isJsonObject(schema)) return ['the schema must be a JSON object'];
  const reasons: string[] = [];
  const size = Buffer.byteLength(JSON.stringify(schema));
  if (size > SCHEMA_LIMITS.maxBytes)
    reasons.push(`the schema is ${size} bytes; the limit is ${SCHEMA_LIMITS.maxBytes}`);
  const s = schema;
  if (s.$schema !== undefined && s.$schema !== 'http://json-schema.org/draft-07/schema#') {
    reasons.push('$schema must be http://json-schema.org/draft-07/schema# or absent');
  }

  const walk = (node: unknown, at: string, depth: number): void => {
    if (reasons.length > 20) return;
    if (depth > SCHEMA_LIMITS.maxDepth) {
      reasons.push(`${at}: nested deeper than ${SCHEMA_LIMITS.maxDepth} levels`);
      return;
    }
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`, depth + 1));
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (k === '$ref' && typeof v === 'string' && !v.startsWith('#'))
        reasons.push(`${at}/$ref: only references inside the schema (#/…) are allowed, not ${v.slice(0, 100)}`);
      if (k === '$id' && depth > 0) reasons.push(`${at}/$id: nested $id is not allowed`);
      if (k === 'pattern' && typeof v === 'string') checkPattern(v, `${at}/pattern`);
      if (k === 'patternProperties' && v && typeof v === 'object')
        Object.keys(v).forEach((p) => checkPattern(p, `${at}/patternProperties`));
      if (k === 'enum' || k === 'const' || k === 'examples' || k === 'default') continue; // data, not schema
      walk(v, `${at}/${k}`, depth + 1);
    }
  };
  const checkPattern = (p: string, at: string) => {
    if (p.length > SCHEMA_LIMITS.maxPatternLength)
      return reasons.push(`${at}: the pattern is longer than ${SCHEMA_LIMITS.maxPatternLength} characters`);
    try {
      new RegExp(p, 'u');
    } catch (err) {
      return reasons.push(`${at}: not a valid regular expression (${(err as Error).message})`);
    }
    const refusal = linearEngineRefusal(p);
    if (refusal) return reasons.push(`${at}: the pattern ${JSON.stringify(p.slice(0, 60))} ${refusal}`);
    // A second line only: every pattern runs on RE2, so none of these could stall validation.
    if (!safeRegex(p))
      reasons.push(
        `${at}: the pattern ${JSON.stringify(p.slice(0, 60))} can take exponential time (nested quantifiers)`,
      );
    else if (repeatsAlternatives(p))
      reasons.push(
        `${at}: the pattern ${JSON.stringify(p.slice(0, 60))} can take exponential time (a repeated group with alternatives; use a character class or do not repeat the group)`,
      );
  };
  walk(schema, '', 0);
  if (reasons.length) return reasons;

  const ajv = createAjv();
  if (!ajv.validateSchema(schema)) {
    return (ajv.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message} (meta-schema)`);
  }
  try {
    ajv.compile(schema);
  } catch (err) {
    reasons.push(`the schema does not compile: ${(err as Error).message}`);
  }
  return reasons;
}
