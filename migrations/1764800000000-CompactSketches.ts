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
    // Back as CreateRollups1764700000000 made it (its down() drops it).
    await q.query(`
      CREATE FUNCTION analytics_sketch_merge(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $fn$
        SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE jsonb_build_object(
          'z', COALESCE((a->>'z')::bigint, 0) + COALESCE((b->>'z')::bigint, 0),
          'b', COALESCE((SELECT jsonb_object_agg(k, total) FROM (
                 SELECT k, sum(v::bigint) AS total FROM (
                   SELECT * FROM jsonb_each_text(a->'b') UNION ALL SELECT * FROM jsonb_each_text(b->'b')) e(k, v)
                 GROUP BY k) s), '{}'::jsonb)) END
      $fn$`);
  }
}
