import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Percentile sketches move from JSON (about 2 KB for a latency sketch, stored out of line in TOAST
 * and rewritten on every fold) to a compact binary form of a few hundred bytes, merged by the
 * worker. Existing sketches cannot be converted in SQL and are reset; counts, sums and extremes stay.
 */
export class CompactSketches1764800000000 implements MigrationInterface {
  name = 'CompactSketches1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE analytics_rollups ALTER COLUMN sketch TYPE bytea USING NULL`);
    await q.query(`DROP FUNCTION IF EXISTS analytics_sketch_merge(jsonb, jsonb)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE analytics_rollups ALTER COLUMN sketch TYPE jsonb USING NULL`);
  }
}
