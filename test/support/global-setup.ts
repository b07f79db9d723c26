import { runMigrations } from '../../src/database/database-preparation';
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
}
