import { isJsonObject } from '../../common/validation';

/** The meta-schema every self-describing Iglu schema names in its `$schema`. */
export const IGLU_META_SCHEMA =
  'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#';

/** The JSON Schema drafts whose `$schema` a tenant schema may carry; all compile as draft-07. */
export const ACCEPTED_META_SCHEMAS = [
  'http://json-schema.org/draft-07/schema#',
  'http://json-schema.org/draft-07/schema',
  'http://json-schema.org/draft-06/schema#',
  'http://json-schema.org/draft-06/schema',
  'http://json-schema.org/draft-04/schema#',
  'http://json-schema.org/draft-04/schema',
  IGLU_META_SCHEMA,
];

/** `self`, as the Iglu meta-schema (com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0) defines it. */
export interface SelfBlock {
  vendor: string;
  name: string;
  format: string;
  version: string;
}

const SELF_FIELDS: [keyof SelfBlock, RegExp][] = [
  ['vendor', /^[a-zA-Z0-9-_.]+$/],
  ['name', /^[a-zA-Z0-9-_]+$/],
  ['format', /^[a-zA-Z0-9-_]+$/],
  ['version', /^[0-9]+-[0-9]+-[0-9]+$/],
];

/**
 * What the Iglu meta-schema says of `self`: required when `$schema` is the Iglu meta-schema, an
 * object of exactly vendor, name, format and version, each a string of its pattern. Reasons at
 * JSON pointers; none when the block is well formed (or absent and not required).
 */
export function selfBlockReasons(schema: Record<string, unknown>): string[] {
  const self = schema.self;
  if (self === undefined) {
    return schema.$schema === IGLU_META_SCHEMA
      ? ['/self: required by the self-describing meta-schema (vendor, name, format, version)']
      : [];
  }
  if (!isJsonObject(self)) return ['/self: must be an object with vendor, name, format and version'];
  const reasons: string[] = [];
  for (const [field, pattern] of SELF_FIELDS) {
    const v = self[field];
    if (v === undefined) reasons.push(`/self/${field}: required by the self-describing meta-schema`);
    else if (typeof v !== 'string' || !pattern.test(v))
      reasons.push(`/self/${field}: must be a string matching ${pattern.source}`);
  }
  for (const k of Object.keys(self)) {
    if (!SELF_FIELDS.some(([f]) => f === k))
      reasons.push(`/self/${k.slice(0, 64)}: not allowed by the self-describing meta-schema`);
  }
  return reasons;
}

/** Where `self` disagrees with the Iglu URI (vendor/name/format and version) a schema is published under. */
export function selfMismatches(schema: Record<string, unknown>, name: string, version: string): string[] {
  const self = schema.self;
  if (!isJsonObject(self)) return [];
  const [vendor, schemaName, format] = name.split('/');
  const expected: SelfBlock = { vendor, name: schemaName, format, version };
  return SELF_FIELDS.filter(([f]) => typeof self[f] === 'string' && self[f] !== expected[f]).map(
    ([f]) =>
      `/self/${f}: is ${JSON.stringify(self[f])} but the schema is published as iglu:${name}/${version} (${f} ${JSON.stringify(expected[f])})`,
  );
}

/** Keywords whose value is one subschema. */
const ONE = ['not', 'if', 'then', 'else', 'additionalProperties', 'additionalItems', 'contains', 'propertyNames'];
/** Keywords whose value is a list of subschemas. */
const LIST = ['allOf', 'anyOf', 'oneOf'];
/** Keywords whose value maps names to subschemas. */
const MAP = ['properties', 'patternProperties', 'definitions', '$defs', 'dependencies'];

/**
 * Calls `visit` on a schema and every subschema under it, schema-aware: the keys of `properties`
 * are names, not keywords; `enum`, `const`, `default` and `examples` are data.
 */
export function eachSubschema(
  node: unknown,
  visit: (schema: Record<string, unknown>, at: string, depth: number) => void,
  at = '',
  depth = 0,
): void {
  if (!isJsonObject(node)) return;
  visit(node, at, depth);
  for (const k of ONE) if (k in node) eachSubschema(node[k], visit, `${at}/${k}`, depth + 1);
  for (const k of LIST) {
    const list = node[k];
    if (Array.isArray(list)) list.forEach((s, i) => eachSubschema(s, visit, `${at}/${k}/${i}`, depth + 2));
  }
  for (const k of MAP) {
    const map = node[k];
    if (!isJsonObject(map)) continue;
    for (const [name, s] of Object.entries(map))
      eachSubschema(s, visit, `${at}/${k}/${escapePointer(name)}`, depth + 2);
  }
  const items = node.items;
  if (Array.isArray(items)) items.forEach((s, i) => eachSubschema(s, visit, `${at}/items/${i}`, depth + 2));
  else eachSubschema(items, visit, `${at}/items`, depth + 1);
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The form of a published schema that the validators compile (as draft-07): without the top-level
 * `$schema`, `self` and `$id`/`id` (Ajv would try to resolve the Iglu meta-schema, does not know
 * `self`, and an id would register the schema globally), and with draft-04's boolean
 * `exclusiveMinimum`/`exclusiveMaximum` turned into draft-06+ numbers. The stored schema is kept as
 * it was published; only this copy changes.
 */
export function compilableSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _s, self: _self, $id: _id, ...rest } = schema;
  const copy = structuredClone(rest);
  if (typeof copy.id === 'string') delete copy.id; // draft-04's $id
  eachSubschema(copy, (node) => {
    for (const [flag, bound] of [
      ['exclusiveMinimum', 'minimum'],
      ['exclusiveMaximum', 'maximum'],
    ] as const) {
      if (typeof node[flag] !== 'boolean') continue;
      if (node[flag] === true && typeof node[bound] === 'number') {
        node[flag] = node[bound];
        delete node[bound];
      } else delete node[flag]; // false, or true without a bound (draft04Reasons refuses the latter)
    }
  });
  return copy;
}

/** Draft-04's boolean exclusive bounds that have no bound to apply to: meaningless, so refused. */
export function draft04Reasons(schema: Record<string, unknown>): string[] {
  const reasons: string[] = [];
  eachSubschema(schema, (node, at) => {
    for (const [flag, bound] of [
      ['exclusiveMinimum', 'minimum'],
      ['exclusiveMaximum', 'maximum'],
    ] as const) {
      if (node[flag] === true && typeof node[bound] !== 'number')
        reasons.push(`${at}/${flag}: true (draft-04 style) needs a numeric ${bound} beside it`);
    }
  });
  return reasons;
}
