import { ClickHouse } from '../../database/clickhouse';

/** The local (per server) name of a table: the table itself on one server, `<name>_local` under a Distributed one. */
export function localTable(ch: ClickHouse, name: 'events' | 'rollups'): string {
  return `${ch.database}.${ch.cluster ? `${name}_local` : name}`;
}

/**
 * The ClickHouse tables, created if missing (idempotent; both roles run it at start):
 *
 * - `events`: one row per stored event, partitioned by UTC day and ordered for the reports
 *   (tenant, event name, time). 18.16 has no DateTime64: `occurred_at` is the DateTime (seconds)
 *   the partitions and the primary key use, `occurred_us` the exact instant in µs beside it.
 *   `block` is the shipment that wrote the row (exactly once, see ClickHouseEventStore.foldRound).
 * - `rollups`: the fold's deltas, one row per rollup row and fold; a report adds them up per bucket
 *   (sum, min, max in ClickHouse; the DDSketches, stored in their compact binary form as base64,
 *   merged in the service, so percentiles keep the 1 % bound they have on Postgres).
 *
 * With a cluster, each server holds `<name>_local` (its shard's rows) and a `Distributed` table
 * `<name>` over the cluster, sharded by tenant (cityHash64(tenant_id)): a tenant's events and rollups
 * live on one shard, and every query through `<name>` is answered by all shards.
 */
export async function ensureClickHouseSchema(ch: ClickHouse): Promise<void> {
  await ch.each(`CREATE DATABASE IF NOT EXISTS ${ch.database}`);
  await ch.each(`CREATE TABLE IF NOT EXISTS ${localTable(ch, 'events')} (
    tenant_id String,
    event_id String,
    event_name String,
    occurred_at DateTime,
    occurred_us Int64,
    received_us Int64,
    site_id Nullable(String),
    session_id Nullable(String),
    user_id Nullable(String),
    source String,
    attributes String,
    context String,
    payload String,
    block String
  ) ENGINE = MergeTree PARTITION BY toDate(occurred_at) ORDER BY (tenant_id, event_name, occurred_at)`);
  await ch.each(`CREATE TABLE IF NOT EXISTS ${localTable(ch, 'rollups')} (
    tenant_id String,
    metric String,
    level String,
    site_id String,
    source String,
    bucket DateTime,
    count Int64,
    num Int64,
    sum Float64,
    min Nullable(Float64),
    max Nullable(Float64),
    sketch String,
    block String
  ) ENGINE = MergeTree PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, metric, level, site_id, source, bucket)`);
  if (ch.cluster) {
    for (const name of ['events', 'rollups'] as const)
      await ch.each(
        `CREATE TABLE IF NOT EXISTS ${ch.database}.${name} AS ${localTable(ch, name)}
         ENGINE = Distributed(${ch.cluster}, ${ch.database}, ${name}_local, cityHash64(tenant_id))`,
      );
  }
}
