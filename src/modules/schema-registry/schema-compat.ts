/**
 * Whether a new schema accepts everything an old one accepted, as a SchemaVer ADDITION must.
 * A structural comparison of the keywords that narrow what is valid; it answers with the
 * reasons, each at a JSON pointer into the schema. Conservative: a change it cannot prove harmless
 * (a new or changed pattern, a new $ref) is reported. As in Iglu's practice, declaring a new
 * optional property is an ADDITION even when additional properties were open before.
 */
type Schema = Record<string, unknown>;

const LOWER = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const;
const UPPER = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const;
const EXACT = ['pattern', 'format', 'const', 'multipleOf', '$ref', 'uniqueItems'] as const;

function types(s: Schema): Set<string> | null {
  if (s.type === undefined) return null;
  const list = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
  const set = new Set(list);
  if (set.has('number')) set.add('integer'); // number accepts every integer
  return set;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function additionIncompatibilities(oldS: Schema, newS: Schema, at = ''): string[] {
  const reasons: string[] = [];
  const here = at || '/';
  if (typeof oldS !== 'object' || oldS === null || typeof newS !== 'object' || newS === null) {
    if (!same(oldS, newS))
      reasons.push(`${here}: the schema changed from ${JSON.stringify(oldS)} to ${JSON.stringify(newS)}`);
    return reasons;
  }

  const oldT = types(oldS);
  const newT = types(newS);
  if (newT && (!oldT || [...oldT].some((t) => !newT.has(t)))) {
    reasons.push(
      `${here}: type narrowed from ${oldT ? JSON.stringify(oldS.type) : 'any'} to ${JSON.stringify(newS.type)}`,
    );
  }
  for (const k of LOWER) {
    const o = oldS[k] as number | undefined;
    const n = newS[k] as number | undefined;
    if (n !== undefined && (o === undefined || n > o))
      reasons.push(`${here}: ${k} tightened from ${o ?? 'none'} to ${n}`);
  }
  for (const k of UPPER) {
    const o = oldS[k] as number | undefined;
    const n = newS[k] as number | undefined;
    if (n !== undefined && (o === undefined || n < o))
      reasons.push(`${here}: ${k} tightened from ${o ?? 'none'} to ${n}`);
  }
  for (const k of EXACT) {
    if (newS[k] !== undefined && !same(oldS[k], newS[k]))
      reasons.push(`${here}: ${k} ${oldS[k] === undefined ? 'added' : 'changed'} (${JSON.stringify(newS[k])})`);
  }
  if (Array.isArray(newS.enum)) {
    const oldEnum = Array.isArray(oldS.enum) ? (oldS.enum as unknown[]) : null;
    const missing = oldEnum ? oldEnum.filter((v) => !(newS.enum as unknown[]).some((n) => same(n, v))) : null;
    if (!oldEnum) reasons.push(`${here}: enum added`);
    else if (missing!.length) reasons.push(`${here}: enum lost ${missing!.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  for (const k of [
    'allOf',
    'anyOf',
    'oneOf',
    'not',
    'if',
    'then',
    'else',
    'dependencies',
    'dependentRequired',
    'propertyNames',
    'contains',
  ] as const) {
    if (newS[k] !== undefined && !same(oldS[k], newS[k]))
      reasons.push(`${here}: ${k} ${oldS[k] === undefined ? 'added' : 'changed'}`);
  }

  // Objects: no new required property, no removed property, no closed door.
  const oldReq = new Set((oldS.required as string[] | undefined) ?? []);
  for (const r of (newS.required as string[] | undefined) ?? []) {
    if (!oldReq.has(r)) reasons.push(`${at}/required: new required property "${r}"`);
  }
  const oldProps = (oldS.properties ?? {}) as Record<string, Schema>;
  const newProps = (newS.properties ?? {}) as Record<string, Schema>;
  for (const [name, schema] of Object.entries(oldProps)) {
    if (!(name in newProps)) reasons.push(`${at}/properties/${name}: property removed`);
    else reasons.push(...additionIncompatibilities(schema, newProps[name], `${at}/properties/${name}`));
  }
  const oldAdditional = oldS.additionalProperties;
  const newAdditional = newS.additionalProperties;
  if (newAdditional === false && oldAdditional !== false) reasons.push(`${at}/additionalProperties: closed (was open)`);
  if (oldAdditional === false) {
    // Newly declared properties were refused before and are now allowed: harmless.
  } else if (newAdditional !== undefined && newAdditional !== false && typeof newAdditional === 'object') {
    const oldA = typeof oldAdditional === 'object' && oldAdditional !== null ? (oldAdditional as Schema) : {};
    reasons.push(...additionIncompatibilities(oldA, newAdditional as Schema, `${at}/additionalProperties`));
  }
  // Arrays: items must accept what they accepted.
  if (newS.items !== undefined) {
    if (oldS.items === undefined) reasons.push(...additionIncompatibilities({}, newS.items as Schema, `${at}/items`));
    else reasons.push(...additionIncompatibilities(oldS.items as Schema, newS.items as Schema, `${at}/items`));
  }
  return reasons;
}
