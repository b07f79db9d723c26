import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenant schemas (custom event types and Iglu self-describing schemas, immutable SchemaVer
 * versions), each tenant's validation mode, the quarantine for events that failed validation in
 * quarantine mode, and the raw events' self-describing payload.
 */
export class CreateSchemaRegistry1764500000000 implements MigrationInterface {
  name = 'CreateSchemaRegistry1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE analytics_tenants ADD COLUMN validation_mode text NOT NULL DEFAULT 'reject'
      CHECK (validation_mode IN ('reject', 'quarantine'))`);
    await q.query(`
      CREATE TABLE analytics_schemas (
        tenant_id  uuid        NOT NULL REFERENCES analytics_tenants (id) ON DELETE CASCADE,
        name       text        NOT NULL,
        kind       text        NOT NULL CHECK (kind IN ('event', 'iglu')),
        model      integer     NOT NULL CHECK (model >= 1),
        revision   integer     NOT NULL CHECK (revision >= 0),
        addition   integer     NOT NULL CHECK (addition >= 0),
        schema     jsonb       NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, name, model, revision, addition)
      )`);
    await q.query(`
      CREATE TABLE analytics_quarantine (
        tenant_id      uuid        NOT NULL,
        event_id       uuid        NOT NULL,
        event_name     text        NOT NULL,
        event          jsonb       NOT NULL,
        errors         jsonb       NOT NULL,
        quarantined_at timestamptz NOT NULL DEFAULT now(),
        replayed_at    timestamptz,
        PRIMARY KEY (tenant_id, event_id)
      )`);
    await q.query(
      `CREATE INDEX idx_analytics_quarantine_pending ON analytics_quarantine (tenant_id, quarantined_at) WHERE replayed_at IS NULL`,
    );
    await q.query(`ALTER TABLE analytics_events_raw ADD COLUMN payload jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE analytics_events_raw DROP COLUMN payload`);
    await q.query(`DROP TABLE analytics_quarantine`);
    await q.query(`DROP TABLE analytics_schemas`);
    await q.query(`ALTER TABLE analytics_tenants DROP COLUMN validation_mode`);
  }
}
