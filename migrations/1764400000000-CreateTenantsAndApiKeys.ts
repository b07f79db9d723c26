import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenants and their API keys. A key is stored only as the SHA-256 of its secret part; its id
 * (the part after `ak_`) is public and is how a presented key is found.
 */
export class CreateTenantsAndApiKeys1764400000000 implements MigrationInterface {
  name = 'CreateTenantsAndApiKeys1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_tenants (
        id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        name           text        NOT NULL,
        is_operator    boolean     NOT NULL DEFAULT false,
        rate_limit_rps integer     CHECK (rate_limit_rps > 0),
        rate_limit_eps integer     CHECK (rate_limit_eps > 0),
        cors_origins   text[]      NOT NULL DEFAULT '{}',
        created_at     timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE analytics_api_keys (
        id          text        PRIMARY KEY,
        tenant_id   uuid        NOT NULL REFERENCES analytics_tenants (id) ON DELETE CASCADE,
        name        text,
        secret_hash bytea       NOT NULL,
        scopes      text[]      NOT NULL CHECK (scopes <@ ARRAY['ingest', 'report', 'admin'] AND cardinality(scopes) > 0),
        created_at  timestamptz NOT NULL DEFAULT now(),
        revoked_at  timestamptz
      )`);
    await q.query(`CREATE INDEX idx_analytics_api_keys_tenant ON analytics_api_keys (tenant_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS analytics_api_keys`);
    await q.query(`DROP TABLE IF EXISTS analytics_tenants`);
  }
}
