import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { dataSourceOptions } from './data-source';

const MIGRATION_LOCK = 7_413_001; // pg advisory lock key: one migrator at a time
/** pg advisory lock key: one api at a time seeds the development demo tenant. */
export const DEMO_SEED_LOCK = 7_413_003;

/** Names the database in a postgres URL. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** Creates the database named in `url` when it does not exist (development convenience). */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  const target = databaseName(url);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    // api and worker may start together: one creates, the other then finds it.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [target]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE "${target.replace(/"/g, '""')}"`);
    return true;
  } finally {
    await client.end(); // releases the session lock
  }
}

/** Applies pending migrations; concurrent callers (api and worker starting together) serialize. */
export async function runMigrations(url: string): Promise<string[]> {
  const ds = new DataSource(dataSourceOptions(url, { extra: { max: 2 } }));
  await ds.initialize();
  const runner = ds.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
    await ds.destroy();
  }
}

export async function prepareDatabase(config: AnalyticsConfig, log: (line: string) => void): Promise<void> {
  if (!config.database.autoMigrate) return;
  if (await createDatabaseIfMissing(config.database.url)) {
    log(`Created database ${databaseName(config.database.url)}`);
  }
  const applied = await runMigrations(config.database.url);
  if (applied.length) log(`Applied migrations: ${applied.join(', ')}`);
}

/**
 * Runs `fn` while holding a session advisory lock on a connection of its own, so that processes
 * starting together (several apis on a fresh database) do a start-up step one at a time: the
 * first does it, the others then find it done. `fn` uses other connections of the pool.
 */
export async function underAdvisoryLock<T>(ds: DataSource, key: number, fn: () => Promise<T>): Promise<T> {
  const runner = ds.createQueryRunner();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [key]);
    return await fn();
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
    await runner.release();
  }
}
