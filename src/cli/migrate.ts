import 'reflect-metadata';
import { createDatabaseIfMissing, databaseName, runMigrations } from '../database/database-preparation';
import { AnalyticsConfig } from '../modules/config/analytics-config';

/** npm run migration:run — creates the database if needed and applies pending migrations. */
async function main(): Promise<void> {
  const config = AnalyticsConfig.fromEnvironment(process.env);
  const url = config.database.url;
  if (await createDatabaseIfMissing(url)) console.log(`Created database ${databaseName(url)}`);
  const applied = await runMigrations(url);
  console.log(applied.length ? `Applied: ${applied.join(', ')}` : `Database ${databaseName(url)} is up to date`);
}

main().catch((err) => {
  console.error(`migration failed: ${(err as Error).message}`);
  process.exit(1);
});
