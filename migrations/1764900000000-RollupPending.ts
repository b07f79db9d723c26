import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events stored but not yet folded into the rollups. The persist statement adds each fresh event
 * here; the rollup folder takes a few thousand at a time and, in one transaction, folds them and
 * deletes them. Holds only what the fold reads.
 */
export class RollupPending1764900000000 implements MigrationInterface {
  name = 'RollupPending1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_rollup_pending (
        tenant_id   uuid        NOT NULL,
        event_name  text        NOT NULL,
        occurred_at timestamptz NOT NULL,
        site_id     uuid,
        session_id  uuid,
        user_id     text,
        source      text        NOT NULL,
        attributes  jsonb       NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE analytics_rollup_pending`);
  }
}
