import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Raw events, range-partitioned by day on occurred_at, and the durable dedupe ledger.
 *
 * The raw table cannot hold a unique event_id across partitions (every unique constraint of a
 * partitioned table must include the partition key), so exactly-once is enforced by the ledger,
 * whose primary key is (tenant_id, event_id), inside the worker's transaction.
 */
export class CreateRawEventsAndLedger1764300000000 implements MigrationInterface {
  name = 'CreateRawEventsAndLedger1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_events_raw (
        id          uuid        NOT NULL DEFAULT gen_random_uuid(),
        tenant_id   uuid        NOT NULL,
        site_id     uuid,
        event_id    uuid        NOT NULL,
        event_name  text        NOT NULL,
        occurred_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        session_id  uuid,
        user_id     text,
        source      text        NOT NULL,
        attributes  jsonb       NOT NULL DEFAULT '{}',
        context     jsonb,
        created_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT analytics_events_raw_pkey PRIMARY KEY (tenant_id, occurred_at, event_id)
      ) PARTITION BY RANGE (occurred_at)`);
    // The primary key's (tenant_id, occurred_at) prefix serves the brief's tenant/time index.
    await q.query(`CREATE INDEX idx_analytics_events_name_time
      ON analytics_events_raw (tenant_id, event_name, occurred_at)`);
    await q.query(`CREATE INDEX idx_analytics_events_site_time
      ON analytics_events_raw (tenant_id, site_id, occurred_at) WHERE site_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE analytics_dedupe_ledger (
        tenant_id   uuid        NOT NULL,
        event_id    uuid        NOT NULL,
        occurred_at timestamptz NOT NULL,
        stored_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT analytics_dedupe_ledger_pkey PRIMARY KEY (tenant_id, event_id)
      )`);
    // Retention expires ledger entries together with the events they guard.
    await q.query(`CREATE INDEX idx_analytics_dedupe_ledger_occurred ON analytics_dedupe_ledger (occurred_at)`);

    // Creates the daily partition holding `day` (UTC) if it does not exist yet; safe to call
    // concurrently from several workers. Returns the partition's name.
    await q.query(`
      CREATE FUNCTION analytics_ensure_raw_partition(day date) RETURNS text
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

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS analytics_ensure_raw_partition(date)`);
    await q.query(`DROP TABLE IF EXISTS analytics_dedupe_ledger`);
    await q.query(`DROP TABLE IF EXISTS analytics_events_raw`);
  }
}
