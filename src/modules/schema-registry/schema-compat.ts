import type Ajv from 'ajv';
import { createAjv } from './ajv-factory';
import { escapePointer } from './self-describing';

/**
 * Whether a new schema accepts everything an old one accepted, as a SchemaVer ADDITION must,
 * compared by meaning rather than by spelling: where the old version accepted a finite set of
 * values (an `enum` or a `const`), each value is validated against the new version, so adding
 * `type: "string"` to an enum of strings, or a `maxLength` every value meets, is compatible.
 * Elsewhere it compares the keywords that narrow what is valid. Each finding names a JSON pointer
 * into the new schema and says whether the change is incompatible (decided: some value the old
 * version accepted is refused) or undecided (a new or changed pattern, `$ref` or combinator, whose
 * effect the check cannot compute); either way the version can be published as a REVISION.
 * As in Iglu's practice, declaring a new optional property is an ADDITION even when additional
 * properties were open before.
 */
export interface CompatFinding {
  pointer: string;
  verdict: 'incompatible' | 'undecided';
  message: string;
}

type Schema = Record<string, unknown>;

const LOWER = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const;
const UPPER = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const;
/** Keywords whose change the check cannot compute. */
const UNDECIDABLE = [
  'pattern',
  '$ref',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'dependencies',
  'dependentRequired',
  'dependentSchemas',
  'propertyNames',
  'contains',
  'patternProperties',
  'additionalItems',
] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const isSchema = (s: unknown): s is Schema => s !== null && typeof s === 'object' && !Array.isArray(s);

function types(s: Schema): Set<string> | null {
  if (s.type === undefined) return null;
  const list = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
  const set = new Set(list);
  if (set.has('number')) set.add('integer'); // number accepts every integer
  return set;
}

class Comparison {
  readonly findings: CompatFinding[] = [];
  private ajv: Ajv | null = null;

  constructor(
    private readonly oldRoot: Schema,
    private readonly newRoot: Schema,
  ) {}

  private incompatible(pointer: string, message: string): void {
    this.findings.push({ pointer: pointer || '/', verdict: 'incompatible', message: `${pointer || '/'}: ${message}` });
  }

  private undecided(pointer: string, message: string): void {
    this.findings.push({
      pointer: pointer || '/',
      verdict: 'undecided',
      message: `${pointer || '/'}: ${message}; whether the new version still accepts everything the previous one did cannot be decided`,
    });
  }

  /** A subschema compiled with its root's definitions, so that local references resolve; null when it does not compile. */
  private compile(sub: Schema, root: Schema): ((v: unknown) => boolean) | null {
    this.ajv ??= createAjv();
    const { definitions, $defs } = root;
    try {
      const validate = this.ajv.compile({
        ...sub,
        ...(definitions !== undefined && sub !== root ? { definitions } : {}),
        ...($defs !== undefined && sub !== root ? { $defs } : {}),
      });
      return (v) => validate(v);
    } catch {
      return null;
    }
  }

  compare(o: unknown, n: unknown, at: string): void {
    if (n === true || same(o, n)) return;
    if (o === false) return; // nothing was accepted
    if (n === false) return this.incompatible(at, 'now accepts nothing');
    const oldS: Schema = o === true || o === undefined ? {} : (o as Schema);
    if (!isSchema(oldS) || !isSchema(n)) return this.undecided(at, 'the schema changed shape');
    const newS = n;

    // A finite set of old values: decide by validating each one against the new version.
    if (oldS.const !== undefined || Array.isArray(oldS.enum)) return this.compareFinite(oldS, newS, at);

    const oldT = types(oldS);
    const newT = types(newS);
    if (newT && (!oldT || [...oldT].some((t) => !newT.has(t))))
      this.incompatible(
        at,
        `type narrowed from ${oldT ? JSON.stringify(oldS.type) : 'any'} to ${JSON.stringify(newS.type)}`,
      );
    for (const k of LOWER) {
      const ov = oldS[k] as number | undefined;
      const nv = newS[k] as number | undefined;
      if (typeof nv === 'number' && (typeof ov !== 'number' || nv > ov))
        this.incompatible(at, `${k} tightened from ${ov ?? 'none'} to ${nv}`);
    }
    for (const k of UPPER) {
      const ov = oldS[k] as number | undefined;
      const nv = newS[k] as number | undefined;
      if (typeof nv === 'number' && (typeof ov !== 'number' || nv < ov))
        this.incompatible(at, `${k} tightened from ${ov ?? 'none'} to ${nv}`);
    }
    if (typeof newS.multipleOf === 'number' && newS.multipleOf !== oldS.multipleOf) {
      const ov = oldS.multipleOf;
      if (typeof ov !== 'number' || !Number.isInteger(ov / newS.multipleOf))
        this.incompatible(at, `multipleOf ${ov === undefined ? 'added' : 'changed'} (${newS.multipleOf})`);
    }
    if (newS.uniqueItems === true && oldS.uniqueItems !== true) this.incompatible(at, 'uniqueItems added');
    if (newS.const !== undefined) this.incompatible(at, `const added (${JSON.stringify(newS.const)})`);
    if (Array.isArray(newS.enum)) this.incompatible(at, 'enum added');
    if (newS.format !== undefined && newS.format !== oldS.format) {
      if (oldS.format === undefined && oldS.pattern === undefined)
        this.incompatible(at, `format added (${JSON.stringify(newS.format)})`);
      else
        this.undecided(
          at,
          `format ${oldS.format === undefined ? 'added' : 'changed'} (${JSON.stringify(newS.format)})`,
        );
    }
    for (const k of UNDECIDABLE) {
      if (newS[k] !== undefined && !same(oldS[k], newS[k]))
        this.undecided(
          at,
          `${k} ${oldS[k] === undefined ? 'added' : 'changed'} (${JSON.stringify(newS[k]).slice(0, 80)})`,
        );
    }
    this.compareObject(oldS, newS, at);
    this.compareItems(oldS, newS, at);
    for (const k of ['definitions', '$defs'] as const) {
      const od = oldS[k];
      const nd = newS[k];
      if (!isSchema(od) || !isSchema(nd)) continue;
      for (const [name, schema] of Object.entries(od))
        if (name in nd) this.compare(schema, nd[name], `${at}/${k}/${escapePointer(name)}`);
    }
  }

  private compareFinite(oldS: Schema, newS: Schema, at: string): void {
    const values = oldS.const !== undefined ? [oldS.const] : (oldS.enum as unknown[]);
    const oldValid = this.compile(oldS, this.oldRoot);
    const newValid = this.compile(newS, this.newRoot);
    if (!newValid) return this.undecided(at, 'the new version does not compile on its own');
    const accepted = oldValid ? values.filter((v) => oldValid(v)) : values;
    const lost = accepted.filter((v) => !newValid(v));
    if (!lost.length) return;
    const list = lost
      .slice(0, 10)
      .map((v) => JSON.stringify(v))
      .join(', ');
    if (Array.isArray(newS.enum) && lost.every((v) => !(newS.enum as unknown[]).some((e) => same(e, v))))
      this.incompatible(at, `enum lost ${list}`);
    else this.incompatible(at, `no longer accepts ${list}, which the previous version accepted`);
  }

  // Objects: no new required property, no closed door; a property's schema accepts what it accepted.
  private compareObject(oldS: Schema, newS: Schema, at: string): void {
    const oldReq = new Set((oldS.required as string[] | undefined) ?? []);
    for (const r of (newS.required as string[] | undefined) ?? []) {
      if (!oldReq.has(r)) this.incompatible(`${at}/required`, `new required property "${r}"`);
    }
    const oldProps = (isSchema(oldS.properties) ? oldS.properties : {}) as Record<string, unknown>;
    const newProps = (isSchema(newS.properties) ? newS.properties : {}) as Record<string, unknown>;
    const newAdditional = newS.additionalProperties;
    const oldAdditional = oldS.additionalProperties;
    for (const [name, schema] of Object.entries(oldProps)) {
      const here = `${at}/properties/${escapePointer(name)}`;
      if (name in newProps) this.compare(schema, newProps[name], here);
      // No longer declared: the property is now checked as any additional one.
      else if (newS.patternProperties !== undefined)
        this.undecided(here, 'property removed where patternProperties may apply');
      else if (newAdditional === false) this.incompatible(here, 'property removed (additional properties are closed)');
      else if (isSchema(newAdditional)) this.compare(schema, newAdditional, here);
    }
    if (isSchema(oldAdditional)) {
      // Newly declared properties were checked against the old additionalProperties schema.
      for (const [name, schema] of Object.entries(newProps))
        if (!(name in oldProps)) this.compare(oldAdditional, schema, `${at}/properties/${escapePointer(name)}`);
    }
    if (newAdditional === false && oldAdditional !== false)
      this.incompatible(`${at}/additionalProperties`, 'closed (was open)');
    else if (oldAdditional !== false && isSchema(newAdditional))
      this.compare(oldAdditional ?? {}, newAdditional, `${at}/additionalProperties`);
  }

  // Arrays: items (one schema or a tuple) accept what they accepted.
  private compareItems(oldS: Schema, newS: Schema, at: string): void {
    const o = oldS.items;
    const n = newS.items;
    if (n === undefined || same(o, n)) return;
    if (Array.isArray(n)) {
      if (o !== undefined && !Array.isArray(o)) n.forEach((s, i) => this.compare(o, s, `${at}/items/${i}`));
      else
        n.forEach((s, i) =>
          this.compare((o as unknown[] | undefined)?.[i] ?? oldS.additionalItems, s, `${at}/items/${i}`),
        );
    } else if (Array.isArray(o)) this.undecided(`${at}/items`, 'a tuple became a list');
    else this.compare(o, n, `${at}/items`);
  }
}

/** Every way in which `newS` may refuse what `oldS` accepted, with its pointer and verdict. */
export function additionFindings(oldS: Schema, newS: Schema): CompatFinding[] {
  const c = new Comparison(oldS, newS);
  c.compare(oldS, newS, '');
  return c.findings;
}

/** The findings' messages, in order. */
export function additionIncompatibilities(oldS: Schema, newS: Schema): string[] {
  return additionFindings(oldS, newS).map((f) => f.message);
}
