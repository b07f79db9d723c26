import Ajv, { ValidateFunction } from 'ajv';
import { createAjv } from './ajv-factory';
import { compilableSchema } from './self-describing';
import { compareVersions, formatVersion, igluUri, SchemaVer } from './schema-ver';

export interface PublishedSchema {
  name: string;
  kind: 'event' | 'iglu';
  version: SchemaVer;
  schema: Record<string, unknown>;
  created_at?: string;
}

export interface ResolvedSchema {
  /** How errors name it: `acme.quote_requested/1-0-1` or `iglu:com.acme/quote/jsonschema/1-0-0`. */
  ref: string;
  validate: ValidateFunction;
}

/** One tenant's published schemas, compiled on first use. Immutable: a publish makes a new set. */
export class TenantSchemaSet {
  private ajv: Ajv | null = null;
  private readonly compiled = new Map<string, ResolvedSchema>();
  private readonly byName = new Map<string, PublishedSchema[]>();

  constructor(readonly schemas: PublishedSchema[]) {
    for (const s of schemas) {
      const list = this.byName.get(s.name) ?? [];
      list.push(s);
      this.byName.set(s.name, list);
    }
    for (const list of this.byName.values()) list.sort((a, b) => compareVersions(a.version, b.version));
  }

  static empty(): TenantSchemaSet {
    return new TenantSchemaSet([]);
  }

  versions(name: string): PublishedSchema[] {
    return this.byName.get(name) ?? [];
  }

  /** The newest version of a custom event type: what events of that name are validated against. */
  latestEvent(name: string): ResolvedSchema | null {
    const list = this.byName.get(name)?.filter((s) => s.kind === 'event');
    return list && list.length ? this.resolve(list[list.length - 1]) : null;
  }

  /** Exactly the version an Iglu URI names. */
  iglu(name: string, version: SchemaVer): ResolvedSchema | null {
    const found = this.byName.get(name)?.find((s) => s.kind === 'iglu' && compareVersions(s.version, version) === 0);
    return found ? this.resolve(found) : null;
  }

  private resolve(s: PublishedSchema): ResolvedSchema {
    const ref = s.kind === 'iglu' ? igluUri(s.name, s.version) : `${s.name}/${formatVersion(s.version)}`;
    let hit = this.compiled.get(ref);
    if (!hit) {
      this.ajv ??= createAjv();
      hit = { ref, validate: this.compileOrRefuse(compilableSchema(s.schema), ref) };
      this.compiled.set(ref, hit);
    }
    return hit;
  }

  /**
   * A schema stored before patterns ran on RE2 may hold one RE2 cannot compile (a lookahead, a
   * backreference): its events fail with that reason, so a tenant in quarantine mode can replay
   * them once a fixed version is published, instead of every ingest of the type failing.
   */
  private compileOrRefuse(schema: Record<string, unknown>, ref: string): ValidateFunction {
    try {
      return this.ajv!.compile(schema);
    } catch (err) {
      const message = `cannot be checked: schema ${ref} does not compile on the linear-time pattern engine (${(err as Error).message}); publish a version without it`;
      const refuse = (() => {
        refuse.errors = [{ instancePath: '', schemaPath: '#', keyword: 'schemaUnusable', params: {}, message }];
        return false;
      }) as unknown as ValidateFunction;
      return refuse;
    }
  }
}
