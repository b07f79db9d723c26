import { Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '../../common/problem';
import { BUILTIN_EVENTS, BUILTIN_EVENT_NAMES } from './builtin-events';
import { EVENT_NAME_PATTERN } from './envelope.schema';
import { additionFindings } from './schema-compat';
import { SchemaCatalog } from './schema-catalog.service';
import { reviewSchema } from './schema-safety';
import { compilableSchema, IGLU_META_SCHEMA, selfMismatches } from './self-describing';
import { isJsonObject } from '../../common/validation';
import { bumpKind, compareVersions, formatVersion, igluUri, parseIgluUri, parseVersion, SchemaVer } from './schema-ver';
import { SchemaRepository, SchemaUsage } from './schema.repository';
import { AnalyticsConfig } from '../config/analytics-config';
import { PublishedSchema } from './tenant-schema-set';
import { PublishSchemaDto } from './dto/schema.dto';

export interface SchemaVersionView {
  name: string;
  kind: 'builtin' | 'event' | 'iglu';
  version: string;
  ref: string;
  uri?: string;
  created_at?: string;
  schema: Record<string, unknown>;
  warnings?: string[];
}

export interface SchemaSummary {
  name: string;
  kind: 'builtin' | 'event' | 'iglu';
  versions: string[];
  latest: string;
}

const EVENT_NAME = new RegExp(EVENT_NAME_PATTERN);
const invalid = (detail: string) =>
  new ProblemException(400, 'invalid-schema-request', 'Invalid schema request', detail);

/** Publishing and reading tenant schemas under SchemaVer. */
@Injectable()
export class SchemasService {
  constructor(
    private readonly repo: SchemaRepository,
    private readonly catalog: SchemaCatalog,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  async publish(tenantId: string, body: PublishSchemaDto): Promise<SchemaVersionView> {
    const target = this.readRequest(body);
    const { reasons, warnings } = await reviewSchema(target.schema);
    const mismatches =
      target.kind === 'iglu'
        ? selfMismatches(target.schema, target.name, formatVersion(target.version))
        : eventSelfMismatches(target.schema, formatVersion(target.version));
    if (reasons.length) {
      const all = [...reasons, ...mismatches];
      throw new ProblemException(
        400,
        'unsafe-schema',
        'Schema refused',
        `The schema cannot be published (${all.length} reason${all.length === 1 ? '' : 's'}): ${all.join('; ')}`,
        { reasons: all, ...(warnings.length ? { warnings } : {}) },
      );
    }
    if (mismatches.length) {
      throw new ProblemException(
        422,
        'self-mismatch',
        'Self-describing block does not match',
        `The schema's self block does not describe the version it is published as: ${mismatches.join('; ')}.`,
        { reasons: mismatches },
      );
    }
    const label =
      target.kind === 'iglu' ? igluUri(target.name, target.version) : `${target.name} ${formatVersion(target.version)}`;
    const sequence = (existing: PublishedSchema[]): void => {
      if (existing.some((s) => compareVersions(s.version, target.version) === 0)) {
        throw new ProblemException(
          409,
          'version-exists',
          'Version exists',
          `${label} is already published; versions are immutable. Publish the next version instead.`,
        );
      }
      const latest = existing[existing.length - 1];
      if (!latest) {
        if (formatVersion(target.version) !== '1-0-0') {
          throw new ProblemException(
            422,
            'version-sequence',
            'Version out of sequence',
            `The first version of ${target.name} must be 1-0-0 (got ${formatVersion(target.version)}).`,
          );
        }
        return;
      }
      const bump = bumpKind(latest.version, target.version);
      if (!bump) {
        const v = latest.version;
        throw new ProblemException(
          422,
          'version-sequence',
          'Version out of sequence',
          `The version after ${formatVersion(v)} is ${v.model}-${v.revision}-${v.addition + 1} (addition), ${v.model}-${v.revision + 1}-0 (revision) or ${v.model + 1}-0-0 (model); got ${formatVersion(target.version)}.`,
        );
      }
      if (bump === 'addition') {
        const findings = additionFindings(compilableSchema(latest.schema), compilableSchema(target.schema));
        if (findings.length) {
          const v = target.version;
          const undecided = findings.filter((f) => f.verdict === 'undecided').length;
          throw new ProblemException(
            422,
            'incompatible-addition',
            'Incompatible ADDITION',
            `${formatVersion(v)} is an ADDITION to ${formatVersion(latest.version)} but ${undecided === findings.length ? 'the check cannot decide whether it accepts' : 'does not accept'} everything the previous version accepted: ${findings.map((f) => f.message).join('; ')}. Publish it as the REVISION ${v.model}-${v.revision + 1}-0 (or a MODEL bump) instead.`,
            { reasons: findings.map((f) => f.message), changes: findings },
          );
        }
      }
    };
    await this.repo.publish(tenantId, target, (existing, usage) => {
      sequence(existing);
      this.checkQuota(usage, label);
    });
    await this.catalog.announce(tenantId, target.name);
    return { ...view(target), ...(warnings.length ? { warnings } : {}) };
  }

  /** A tenant keeps at most ANALYTICS_SCHEMA_MAX_COUNT versions and ANALYTICS_SCHEMA_MAX_TOTAL_KB of schema JSON. */
  private checkQuota(usage: SchemaUsage, label: string): void {
    const { maxCount, maxTotalKb } = this.config.schemas;
    if (usage.count + 1 > maxCount) {
      throw new ProblemException(
        422,
        'schema-quota',
        'Schema quota reached',
        `This tenant has ${usage.count} schema versions published, the most allowed (ANALYTICS_SCHEMA_MAX_COUNT=${maxCount}); ${label} was not published.`,
        { quota: 'schema_count', limit: maxCount },
      );
    }
    const totalKb = Math.ceil((usage.bytes + usage.newBytes) / 1024);
    if (usage.bytes + usage.newBytes > maxTotalKb * 1024) {
      throw new ProblemException(
        422,
        'schema-quota',
        'Schema quota reached',
        `Publishing ${label} (${Math.ceil(usage.newBytes / 1024)} KB) would bring this tenant's schemas to ${totalKb} KB, over the ${maxTotalKb} KB allowed (ANALYTICS_SCHEMA_MAX_TOTAL_KB); it was not published.`,
        { quota: 'schema_total_kb', limit: maxTotalKb },
      );
    }
  }

  async list(tenantId: string): Promise<SchemaSummary[]> {
    const set = await this.catalog.fresh(tenantId);
    const builtins: SchemaSummary[] = BUILTIN_EVENTS.map((b) => ({
      name: b.name,
      kind: 'builtin',
      versions: ['1-0-0'],
      latest: '1-0-0',
    }));
    const byName = new Map<string, PublishedSchema[]>();
    for (const s of set.schemas) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
    const published: SchemaSummary[] = [...byName].map(([name, versions]) => ({
      name,
      kind: versions[0].kind,
      versions: versions.map((v) => formatVersion(v.version)),
      latest: formatVersion(versions[versions.length - 1].version),
    }));
    return [...builtins, ...published];
  }

  async version(
    tenantId: string,
    query: { name?: string; version?: string; uri?: string },
  ): Promise<SchemaVersionView> {
    let name: string;
    let version: SchemaVer | null;
    if (query.uri) {
      const key = parseIgluUri(query.uri);
      if (!key) throw invalid('uri must be iglu:vendor/name/jsonschema/MODEL-REVISION-ADDITION.');
      ({ name, version } = key);
    } else {
      if (!query.name) throw invalid('Name the schema with name (and version), or with uri.');
      name = query.name;
      version = query.version ? parseVersion(query.version) : null;
      if (query.version && !version) throw invalid('version must be MODEL-REVISION-ADDITION, e.g. 1-0-0.');
    }
    const builtin = BUILTIN_EVENTS.find((b) => b.name === name);
    if (builtin) return { name, kind: 'builtin', version: '1-0-0', ref: `builtin:${name}`, schema: builtin.attributes };
    const versions = (await this.catalog.fresh(tenantId)).versions(name);
    const found = version
      ? versions.find((v) => compareVersions(v.version, version) === 0)
      : versions[versions.length - 1];
    if (!found)
      throw new ProblemException(
        404,
        'schema-not-found',
        'Not found',
        `No published schema ${query.uri ?? `${name}${query.version ? ` ${query.version}` : ''}`} for this tenant.`,
      );
    return view(found);
  }

  /** The URIs of every Iglu schema version the tenant published, as an Iglu server lists them. */
  async igluUris(tenantId: string): Promise<string[]> {
    const set = await this.catalog.fresh(tenantId);
    return set.schemas.filter((s) => s.kind === 'iglu').map((s) => igluUri(s.name, s.version));
  }

  /**
   * One Iglu schema version as an Iglu server serves it: self-describing. One published without a
   * self block gets the Iglu meta-schema and the self block of its URI; the stored schema is unchanged.
   */
  async igluSchema(tenantId: string, uri: string): Promise<Record<string, unknown>> {
    const key = parseIgluUri(uri);
    if (!key)
      throw new ProblemException(
        404,
        'schema-not-found',
        'Not found',
        `${uri.slice(0, 200)} is not an Iglu URI of the form vendor/name/jsonschema/MODEL-REVISION-ADDITION.`,
      );
    const stored = (await this.catalog.fresh(tenantId))
      .versions(key.name)
      .find((v) => v.kind === 'iglu' && compareVersions(v.version, key.version) === 0);
    if (!stored)
      throw new ProblemException(404, 'schema-not-found', 'Not found', `No published schema ${uri} for this tenant.`);
    if (isJsonObject(stored.schema.self)) return stored.schema;
    const [vendor, name, format] = key.name.split('/');
    const { $schema: _ignored, ...rest } = stored.schema;
    return { $schema: IGLU_META_SCHEMA, self: { vendor, name, format, version: formatVersion(key.version) }, ...rest };
  }

  /** The version a request names (its field types checked by PublishSchemaDto): by Iglu URI, or name and version. */
  private readRequest(b: PublishSchemaDto): PublishedSchema {
    const schema = b.schema;
    if (typeof b.uri === 'string' && b.event_name === undefined && b.version === undefined) {
      const key = parseIgluUri(b.uri);
      if (!key)
        throw invalid(
          `/uri must be iglu:vendor/name/jsonschema/MODEL-REVISION-ADDITION (got ${JSON.stringify(b.uri.slice(0, 100))}).`,
        );
      return { name: key.name, kind: 'iglu', version: key.version, schema };
    }
    if (typeof b.event_name === 'string' && typeof b.version === 'string' && b.uri === undefined) {
      if (!EVENT_NAME.test(b.event_name) || b.event_name.length > 128)
        throw invalid('/event_name must be dotted lower-case, e.g. acme.quote_requested.');
      if (BUILTIN_EVENT_NAMES.has(b.event_name))
        throw invalid(`/event_name ${b.event_name} is a built-in event type; its schema cannot be replaced.`);
      const version = parseVersion(b.version);
      if (!version) throw invalid('/version must be MODEL-REVISION-ADDITION, e.g. 1-0-0.');
      return { name: b.event_name, kind: 'event', version, schema };
    }
    throw invalid('Give either event_name and version, or uri (an Iglu URI carrying its version).');
  }
}

function view(s: PublishedSchema): SchemaVersionView {
  const version = formatVersion(s.version);
  const uri = s.kind === 'iglu' ? igluUri(s.name, s.version) : undefined;
  return {
    name: s.name,
    kind: s.kind,
    version,
    ref: uri ?? `${s.name}/${version}`,
    ...(uri ? { uri } : {}),
    ...(s.created_at ? { created_at: s.created_at } : {}),
    schema: s.schema,
  };
}

/** A custom event type's schema may carry a self block too; its version must then be the one published. */
function eventSelfMismatches(schema: Record<string, unknown>, version: string): string[] {
  const self = schema.self;
  if (!isJsonObject(self) || typeof self.version !== 'string' || self.version === version) return [];
  return [`/self/version: is ${JSON.stringify(self.version)} but the schema is published as version ${version}`];
}
