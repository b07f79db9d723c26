import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rollups at minute, hour and day level, keyed by tenant, metric, bucket start, site and source
 * (each also folded as "all": the all-ones UUID and '*'), so every filter combination reads exact
 * rows. Distinct-rate metrics record the units already counted in a bucket.
 */
export class CreateRollups1764700000000 implements MigrationInterface {
  name = 'CreateRollups1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_rollups (
        tenant_id uuid             NOT NULL,
        metric    text             NOT NULL,
        level     char(1)          NOT NULL CHECK (level IN ('m', 'h', 'd')),
        bucket    timestamptz      NOT NULL,
        site_id   uuid             NOT NULL,
        source    text             NOT NULL,
        count     bigint           NOT NULL,
        num       bigint           NOT NULL,
        sum       double precision NOT NULL,
        min       double precision,
        max       double precision,
        sketch    jsonb,
        PRIMARY KEY (tenant_id, metric, level, site_id, source, bucket)
      )`);
    await q.query(`
      CREATE TABLE analytics_rollup_members (
        tenant_id uuid        NOT NULL,
        metric    text        NOT NULL,
        level     char(1)     NOT NULL,
        bucket    timestamptz NOT NULL,
        site_id   uuid        NOT NULL,
        source    text        NOT NULL,
        side      char(1)     NOT NULL CHECK (side IN ('n', 'd')),
        unit      text        NOT NULL,
        PRIMARY KEY (tenant_id, metric, level, site_id, source, bucket, side, unit)
      )`);
    // Merges two sketches {"z": zeros, "b": {"<index>": count}} by adding their counts.
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

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION analytics_sketch_merge(jsonb, jsonb)`);
    await q.query(`DROP TABLE analytics_rollup_members`);
    await q.query(`DROP TABLE analytics_rollups`);
  }
}
