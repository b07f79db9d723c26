import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PublishedSchema } from './tenant-schema-set';

/** The only class with SQL for analytics_schemas. */
@Injectable()
export class SchemaRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async forTenant(tenantId: string): Promise<PublishedSchema[]> {
    const rows = await this.db.query<SchemaRow[]>(
      `SELECT name, kind, model, revision, addition, schema, created_at FROM analytics_schemas WHERE tenant_id = $1
       ORDER BY name, model, revision, addition`,
      [tenantId],
    );
    return rows.map(toPublished);
  }

  /** One name's versions, oldest first: what a publish of that name changes. */
  async forName(tenantId: string, name: string): Promise<PublishedSchema[]> {
    const rows = await this.db.query<SchemaRow[]>(
      `SELECT name, kind, model, revision, addition, schema, created_at FROM analytics_schemas WHERE tenant_id = $1 AND name = $2
       ORDER BY model, revision, addition`,
      [tenantId, name],
    );
    return rows.map(toPublished);
  }

  /**
   * Publishes a version in one transaction, serialized per tenant: `decide` sees the versions of
   * the name that exist and what the tenant stores (versions, bytes of schema JSON, and the new
   * schema's bytes), and throws to refuse (a duplicate, a skipped version, an incompatible
   * ADDITION, a quota); otherwise the version is inserted.
   */
  async publish(
    tenantId: string,
    s: PublishedSchema,
    decide: (existing: PublishedSchema[], usage: SchemaUsage) => void,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`schema:${tenantId}:${s.name}`]);
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`schemas:${tenantId}`]);
      const [usage] = await tx.query<SchemaUsage[]>(
        `SELECT count(*)::int AS count, coalesce(sum(octet_length(schema::text)), 0)::int AS bytes,
                octet_length($2::jsonb::text) AS "newBytes"
         FROM analytics_schemas WHERE tenant_id = $1`,
        [tenantId, JSON.stringify(s.schema)],
      );
      const rows = await tx.query<SchemaRow[]>(
        `SELECT name, kind, model, revision, addition, schema, created_at FROM analytics_schemas WHERE tenant_id = $1 AND name = $2
         ORDER BY model, revision, addition`,
        [tenantId, s.name],
      );
      decide(rows.map(toPublished), usage);
      await tx.query(
        `INSERT INTO analytics_schemas (tenant_id, name, kind, model, revision, addition, schema) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [tenantId, s.name, s.kind, s.version.model, s.version.revision, s.version.addition, JSON.stringify(s.schema)],
      );
    });
  }
}

/** What a tenant's schemas take: versions and bytes of schema JSON (as Postgres renders jsonb). */
export interface SchemaUsage {
  count: number;
  bytes: number;
  /** The bytes of the schema being published, measured the same way. */
  newBytes: number;
}

interface SchemaRow {
  name: string;
  kind: PublishedSchema['kind'];
  model: number;
  revision: number;
  addition: number;
  schema: Record<string, unknown>;
  created_at: Date;
}

function toPublished(r: SchemaRow): PublishedSchema {
  return {
    name: r.name,
    kind: r.kind,
    version: { model: r.model, revision: r.revision, addition: r.addition },
    schema: r.schema,
    created_at: r.created_at.toISOString(),
  };
}
