-- The production form of the ClickHouse tables (docs/architecture.md, "Storage backends"): per
-- shard, two replicas of ReplicatedMergeTree local tables kept in step through ClickHouse Keeper,
-- and Distributed tables over the cluster `analytics` on every node. Run on every node before the
-- service starts ({shard} and {replica} come from each node's macros); the service keeps tables
-- that exist and creates only missing ones (as plain MergeTree, for one server or tests).
CREATE DATABASE IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.events_local (
  tenant_id String, event_id String, event_name String,
  occurred_at DateTime, occurred_us Int64, received_us Int64,
  site_id Nullable(String), session_id Nullable(String), user_id Nullable(String), source String,
  attributes String, context String, payload String, block String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/analytics/events_local', '{replica}')
PARTITION BY toDate(occurred_at) ORDER BY (tenant_id, event_name, occurred_at);

CREATE TABLE IF NOT EXISTS analytics.rollups_local (
  tenant_id String, metric String, level String, site_id String, source String, bucket DateTime,
  count Int64, num Int64, sum Float64, min Nullable(Float64), max Nullable(Float64), sketch String, block String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/analytics/rollups_local', '{replica}')
PARTITION BY toYYYYMM(bucket) ORDER BY (tenant_id, metric, level, site_id, source, bucket);

CREATE TABLE IF NOT EXISTS analytics.events AS analytics.events_local
  ENGINE = Distributed(analytics, analytics, events_local, cityHash64(tenant_id));
CREATE TABLE IF NOT EXISTS analytics.rollups AS analytics.rollups_local
  ENGINE = Distributed(analytics, analytics, rollups_local, cityHash64(tenant_id));
