import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * analytics_ensure_raw_partition, safe when several processes create the same day at once (workers
 * starting together on a fresh database). The first version took a lock and looked again, but a
 * function's catalog lookups may not see a table another transaction committed while it waited
 * for the lock, so it could still try to create the partition and fail with 42P07 (duplicate_table).
 * Now each day has its own transaction-scoped advisory lock, and a partition created by someone
 * else meanwhile, reported as duplicate_table, is success: the day has its partition.
 */
export class PartitionCreationUnderConcurrency1765000000000 implements MigrationInterface {
  name = 'PartitionCreationUnderConcurrency1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION analytics_ensure_raw_partition(day date) RETURNS text
      LANGUAGE plpgsql AS $fn$
      DECLARE
        part text := 'analytics_events_raw_p' || to_char(day, 'YYYYMMDD');
      BEGIN
        IF to_regclass(part) IS NOT NULL THEN
          RETURN part;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('analytics_events_raw_partitions'), hashtext(part));
        IF to_regclass(part) IS NULL THEN
          BEGIN
            EXECUTE format(
              'CREATE TABLE %I PARTITION OF analytics_events_raw FOR VALUES FROM (%L) TO (%L)',
              part,
              (day::timestamp AT TIME ZONE 'UTC'),
              ((day + 1)::timestamp AT TIME ZONE 'UTC'));
          EXCEPTION WHEN duplicate_table THEN
            NULL; -- created by another transaction meanwhile: the day has its partition
          END;
        END IF;
        RETURN part;
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION analytics_ensure_raw_partition(day date) RETURNS text
      LANGUAGE plpgsql AS $fn$
      DECLARE
        part text := 'analytics_events_raw_p' || to_char(day, 'YYYYMMDD');
      BEGIN
        IF to_regclass(part) IS NOT NULL THEN
          RETURN part;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('analytics_events_raw_partitions'));
        IF to_regclass(part) IS NULL THEN
          EXECUTE format(
            'CREATE TABLE %I PARTITION OF analytics_events_raw FOR VALUES FROM (%L) TO (%L)',
            part,
            (day::timestamp AT TIME ZONE 'UTC'),
            ((day + 1)::timestamp AT TIME ZONE 'UTC'));
        END IF;
        RETURN part;
      END
      $fn$`);
  }
}
