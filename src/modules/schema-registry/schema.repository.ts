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

  /**
   * Publishes a version in one transaction, serialized per (tenant, name): `decide` sees the
   * versions that exist and throws to refuse (a duplicate, a skipped version, an incompatible
   * ADDITION); otherwise the version is inserted.
   */
  async publish(tenantId: string, s: PublishedSchema, decide: (existing: PublishedSchema[]) => void): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`schema:${tenantId}:${s.name}`]);
      const rows = await tx.query<SchemaRow[]>(
        `SELECT name, kind, model, revision, addition, schema, created_at FROM analytics_schemas WHERE tenant_id = $1 AND name = $2
         ORDER BY model, revision, addition`,
        [tenantId, s.name],
      );
      decide(rows.map(toPublished));
      await tx.query(
        `INSERT INTO analytics_schemas (tenant_id, name, kind, model, revision, addition, schema) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [tenantId, s.name, s.kind, s.version.model, s.version.revision, s.version.addition, JSON.stringify(s.schema)],
      );
    });
  }
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
