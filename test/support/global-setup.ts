import { runMigrations } from '../../src/database/database-preparation';
import { startClickHouseServers } from './clickhouse-servers';
import { dropRunDatabases, RUN_ID, TEMPLATE_DB, urlFor, withAdmin } from './database';

/**
 * Migrates this run's template database once; every test file clones it (CREATE DATABASE … TEMPLATE).
 * Databases left by runs whose process is gone are dropped; those of a run still going are left alone.
 */
export default async function globalSetup(): Promise<void> {
  process.env.ANALYTICS_TEST_RUN = RUN_ID;
  await dropRunDatabases({ staleOnly: true });
  await withAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  });
  await runMigrations(urlFor(TEMPLATE_DB));
  // ClickHouse for the suites that run on each storage backend: one server, and two as the shards
  // of a Distributed layout, on free ports with data directories of their own (unless given).
  if (!process.env.TEST_CLICKHOUSE_URL) {
    const single = await startClickHouseServers(1);
    const shards = await startClickHouseServers(2);
    process.env.TEST_CLICKHOUSE_URL = single.urls[0];
    process.env.TEST_CLICKHOUSE_SHARD_URLS = shards.urls.join(',');
    process.env.TEST_CLICKHOUSE_CLUSTER = shards.cluster;
    (globalThis as { clickHouseServers?: unknown }).clickHouseServers = [single, shards];
  }
}
