import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * With ANALYTICS_STORAGE=clickhouse, the persist statement leaves each fresh event whole in
 * `analytics_rollup_pending` (in the same statement as its ledger entry), and the fold ships it to
 * ClickHouse from there: the pending table becomes the outbox, so it needs the rest of the event.
 * `block` is the shipment a pending event was claimed for (committed before ClickHouse is written),
 * so that a shipment retried after a crash writes exactly what the first attempt did not.
 * With Postgres storage the new columns stay NULL.
 */
export class ClickHouseOutbox1765200000000 implements MigrationInterface {
  name = 'ClickHouseOutbox1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE analytics_rollup_pending
      ADD COLUMN event_id uuid, ADD COLUMN received_at timestamptz, ADD COLUMN context jsonb,
      ADD COLUMN payload jsonb, ADD COLUMN block bigint`);
    await q.query(
      `CREATE INDEX analytics_rollup_pending_block ON analytics_rollup_pending (block) WHERE block IS NOT NULL`,
    );
    await q.query(`CREATE SEQUENCE analytics_shipment_seq`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SEQUENCE analytics_shipment_seq`);
    await q.query(`DROP INDEX analytics_rollup_pending_block`);
    await q.query(`ALTER TABLE analytics_rollup_pending
      DROP COLUMN event_id, DROP COLUMN received_at, DROP COLUMN context, DROP COLUMN payload, DROP COLUMN block`);
  }
}
