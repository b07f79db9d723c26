import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-tenant privacy settings (retention, pseudonymization and its secret, extra redacted keys),
 * erasure requests, and the audit log of erasures, which holds no personal data.
 */
export class CreatePrivacy1764600000000 implements MigrationInterface {
  name = 'CreatePrivacy1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE analytics_tenants
      ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 1 AND 3650),
      ADD COLUMN pseudonymize_user_id boolean NOT NULL DEFAULT false,
      ADD COLUMN pseudonym_secret bytea NOT NULL DEFAULT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'),
      ADD COLUMN redact_keys text[] NOT NULL DEFAULT '{}'`);
    // subject_hash = sha256(stored user_id or session_id): enough to find the rows, not to know whose.
    await q.query(`
      CREATE TABLE analytics_erasures (
        id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id    uuid        NOT NULL REFERENCES analytics_tenants (id) ON DELETE CASCADE,
        subject_type text        NOT NULL CHECK (subject_type IN ('user', 'session')),
        subject_hash bytea       NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
        rows_deleted integer,
        completed_at timestamptz
      )`);
    await q.query(`CREATE INDEX idx_analytics_erasures_subject ON analytics_erasures (tenant_id, subject_hash)`);
    await q.query(`
      CREATE TABLE analytics_erasure_audit (
        id           bigserial   PRIMARY KEY,
        erasure_id   uuid        NOT NULL,
        tenant_id    uuid        NOT NULL,
        subject_type text        NOT NULL,
        rows_deleted integer     NOT NULL,
        requested_at timestamptz NOT NULL,
        completed_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE analytics_erasure_audit`);
    await q.query(`DROP TABLE analytics_erasures`);
    await q.query(
      `ALTER TABLE analytics_tenants DROP COLUMN retention_days, DROP COLUMN pseudonymize_user_id, DROP COLUMN pseudonym_secret, DROP COLUMN redact_keys`,
    );
  }
}
