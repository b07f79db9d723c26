import { isJsonObject } from '../../common/validation';
import { analysePattern } from './pattern-analysis';
import {
  ACCEPTED_META_SCHEMAS,
  compilableSchema,
  draft04Reasons,
  eachSubschema,
  selfBlockReasons,
} from './self-describing';
import { createAjv, LINEAR_REGEXP } from './ajv-factory';

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

/** What a publish learns of a schema: why it is refused (all reasons at once), and what it only warns of. */
export interface SchemaReview {
  reasons: string[];
  warnings: string[];
}

const MAX_REASONS = 50;

/**
 * Reviews a tenant's schema before it is published, listing every reason at once. It must be a
 * JSON Schema (draft-04, -06 or -07 keywords; `$schema` one of those drafts or the Iglu
 * self-describing meta-schema, whose `self` block it then validates) that compiles in strict
 * mode, reference nothing outside itself, use only known keywords and formats (nothing that would
 * be ignored silently), use only regular expressions that the linear-time engine (RE2) compiles and
 * that a precise analysis does not find super-linear on a backtracking engine, and stay within size
 * and depth limits. The strict-mode rules that only concern style (strictTypes, strictTuples) are
 * warnings.
 */
export async function reviewSchema(schema: unknown): Promise<SchemaReview> {
  if (!isJsonObject(schema)) return { reasons: ['the schema must be a JSON object'], warnings: [] };
  const reasons: string[] = [];
  const warnings: string[] = [];
  const size = Buffer.byteLength(JSON.stringify(schema));
  if (size > SCHEMA_LIMITS.maxBytes) {
    reasons.push(`the schema is ${size} bytes; the limit is ${SCHEMA_LIMITS.maxBytes}`);
    return { reasons, warnings }; // too large to be worth analysing further
  }
  if (schema.$schema !== undefined && !ACCEPTED_META_SCHEMAS.includes(schema.$schema as string)) {
    reasons.push(
      `/$schema: must be absent, a JSON Schema draft-04, -06 or -07 meta-schema (e.g. http://json-schema.org/draft-07/schema#) or the Iglu self-describing meta-schema ${ACCEPTED_META_SCHEMAS[ACCEPTED_META_SCHEMAS.length - 1]}, not ${JSON.stringify(schema.$schema).slice(0, 100)}`,
    );
  }
  reasons.push(...selfBlockReasons(schema));

  // Depth, references and patterns, over the whole document (data keywords excepted).
  const patterns: { pattern: string; at: string }[] = [];
  let tooDeep = false;
  const walk = (node: unknown, at: string, depth: number): void => {
    if (reasons.length > MAX_REASONS) return;
    if (depth > SCHEMA_LIMITS.maxDepth) {
      reasons.push(`${at}: nested deeper than ${SCHEMA_LIMITS.maxDepth} levels`);
      tooDeep = true;
      return;
    }
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`, depth + 1));
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (k === '$ref' && typeof v === 'string' && !v.startsWith('#'))
        reasons.push(`${at}/$ref: only references inside the schema (#/…) are allowed, not ${v.slice(0, 100)}`);
      if (k === '$id' && depth > 0) reasons.push(`${at}/$id: nested $id is not allowed`);
      if (k === 'pattern' && typeof v === 'string') patterns.push({ pattern: v, at: `${at}/pattern` });
      if (k === 'patternProperties' && isJsonObject(v))
        Object.keys(v).forEach((p) => patterns.push({ pattern: p, at: `${at}/patternProperties` }));
      if (k === 'enum' || k === 'const' || k === 'examples' || k === 'default') continue; // data, not schema
      walk(v, `${at}/${k}`, depth + 1);
    }
  };
  walk(schema, '', 0);
  if (tooDeep) return { reasons, warnings };

  const compilable = compilableSchema(schema);
  const probe = createAjv(() => undefined);
  const known = new Set(Object.keys(probe.RULES.keywords));
  const formats = Object.keys(probe.formats);
  eachSubschema(compilable, (node, at) => {
    for (const k of Object.keys(node)) {
      if (!known.has(k))
        reasons.push(
          `${at}/${k.slice(0, 64)}: unknown keyword ${JSON.stringify(k.slice(0, 64))}, which validation would ignore`,
        );
    }
    if (typeof node.format === 'string' && !formats.includes(node.format))
      reasons.push(
        `${at}/format: unknown format ${JSON.stringify(node.format.slice(0, 64))}, which validation would ignore (known: ${formats.join(', ')})`,
      );
    if (
      typeof node.$ref === 'string' &&
      node.$ref.startsWith('#/') &&
      resolvePointer(compilable, node.$ref) === undefined
    )
      reasons.push(`${at}/$ref: ${node.$ref.slice(0, 100)} does not point at anything in the schema`);
  });
  reasons.push(...draft04Reasons(schema));
  const checked = await checkPatterns(patterns);
  reasons.push(...checked.reasons);
  warnings.push(...checked.warnings);

  const findings: string[] = [];
  const ajv = createAjv((m) => findings.push(m));
  if (!ajv.validateSchema(compilable)) {
    reasons.push(...(ajv.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message} (meta-schema)`));
    return { reasons: dedupe(reasons), warnings };
  }
  try {
    ajv.compile(compilable);
  } catch (err) {
    // What makes Ajv throw (a bad pattern, format or reference) is already listed; anything else is new.
    if (!reasons.length) reasons.push(`the schema does not compile: ${(err as Error).message}`);
  }
  for (const finding of findings) {
    const message = finding.replace(/^strict mode: /, '');
    if (/^unknown keyword/.test(message)) continue; // listed above, with its pointer
    if (/\(strictTypes\)$|-tuple, but /.test(message))
      warnings.push(`${message} (style only; validation is unaffected)`);
    else reasons.push(`strict mode: ${message}`);
  }
  return { reasons: dedupe(reasons), warnings: dedupe(warnings) };
}

/** The reasons alone, for callers that only need to know whether a schema may be published. */
export async function unsafeSchemaReasons(schema: unknown): Promise<string[]> {
  return (await reviewSchema(schema)).reasons;
}

async function checkPatterns(patterns: { pattern: string; at: string }[]): Promise<SchemaReview> {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const analysable: { pattern: string; at: string }[] = [];
  for (const { pattern: p, at } of patterns) {
    const quoted = JSON.stringify(p.slice(0, 60));
    if (p.length > SCHEMA_LIMITS.maxPatternLength) {
      reasons.push(`${at}: the pattern is longer than ${SCHEMA_LIMITS.maxPatternLength} characters`);
      continue;
    }
    try {
      new RegExp(p, 'u');
    } catch (err) {
      reasons.push(`${at}: not a valid regular expression (${(err as Error).message})`);
      continue;
    }
    const refusal = linearEngineRefusal(p);
    if (refusal) reasons.push(`${at}: the pattern ${quoted} ${refusal}`);
    else analysable.push({ pattern: p, at });
  }
  // Every pattern runs on RE2, so none could stall validation; the analysis keeps out the ones that
  // would on the backtracking engines of the tools that read the schema (Iglu resolvers, browsers).
  const verdicts = await Promise.all(analysable.map(({ pattern }) => analysePattern(pattern)));
  verdicts.forEach((v, i) => {
    const { pattern, at } = analysable[i];
    const quoted = JSON.stringify(pattern.slice(0, 60));
    if (v.status === 'vulnerable')
      reasons.push(
        `${at}: the pattern ${quoted} can take ${v.complexity} time on a backtracking engine (e.g. on ${v.attack.slice(0, 80)}); rewrite it so that no two repetitions can match the same text`,
      );
    else if (v.status === 'unknown')
      warnings.push(
        `${at}: the pattern ${quoted} could not be analysed for super-linear backtracking (${v.why}); validation runs it in linear time`,
      );
  });
  return { reasons, warnings };
}

/** The value a local JSON pointer (`#/definitions/x`) names in a schema, or undefined. */
function resolvePointer(root: unknown, ref: string): unknown {
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, seg)) return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node;
}

const dedupe = (xs: string[]) => [...new Set(xs)];
