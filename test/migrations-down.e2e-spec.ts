import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../migrations';
import { dataSourceOptions } from '../src/database/data-source';
import { runDatabase, urlFor, withAdmin } from './support/database';

/** What the migrations own in a database: tables (partitions included), views, functions and types. */
async function schemaObjects(ds: DataSource): Promise<string[]> {
  const rows: { o: string }[] = await ds.query(`
    SELECT 'relation ' || c.relname AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relname <> 'analytics_migrations'
       AND c.relname NOT LIKE 'analytics_migrations%'
    UNION ALL
    SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
    UNION ALL
    SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
    ORDER BY 1`);
  return rows.map((r) => r.o);
}

describe("every migration's down()", () => {
  const dbName = runDatabase(`mig${randomBytes(3).toString('hex')}`);
  let ds: DataSource;
  beforeAll(async () => {
    await withAdmin((c) => c.query(`CREATE DATABASE ${dbName} TEMPLATE template0`));
    ds = new DataSource({ ...dataSourceOptions(urlFor(dbName)), extra: { max: 2 } });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  });

  it('runs up, reverts one by one to an empty database, and runs up again to the same schema', async () => {
    expect(await schemaObjects(ds)).toEqual([]);
    const applied = await ds.runMigrations({ transaction: 'each' });
    expect(applied.map((m) => m.name)).toEqual(MIGRATIONS.map((M) => M.name));
    // a daily partition, as the worker makes them, must go with its table
    await ds.query('SELECT analytics_ensure_raw_partition(current_date)');
    const full = await schemaObjects(ds);
    expect(full).toEqual(
      expect.arrayContaining(['relation analytics_events_raw', 'function analytics_ensure_raw_partition']),
    );
    expect(full.some((o) => o.startsWith('relation analytics_events_raw_p'))).toBe(true);

    for (let left = MIGRATIONS.length; left > 0; left--) {
      await ds.undoLastMigration({ transaction: 'each' });
      const rows: { name: string }[] = await ds.query('SELECT name FROM analytics_migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.slice(0, left - 1).map((M) => M.name));
    }
    expect(await schemaObjects(ds)).toEqual([]);

    const again = await ds.runMigrations({ transaction: 'each' });
    expect(again).toHaveLength(MIGRATIONS.length);
    await ds.query('SELECT analytics_ensure_raw_partition(current_date)');
    expect(await schemaObjects(ds)).toEqual(full);
  });
});
