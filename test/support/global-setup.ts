import { runMigrations } from '../../src/database/database-preparation';
import { TEMPLATE_DB, urlFor, withAdmin } from './database';

/** Migrates a template database once; every test file clones it (CREATE DATABASE … TEMPLATE). */
export default async function globalSetup(): Promise<void> {
  await withAdmin(async (c) => {
    const stale = await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'analytics_t\\_%'`);
    for (const row of stale.rows) await c.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
    await c.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  });
  await runMigrations(urlFor(TEMPLATE_DB));
}
