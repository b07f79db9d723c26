import { dropRunDatabases } from './database';

/** Drops the template and any database of this run that a test file left behind. */
export default async function globalTeardown(): Promise<void> {
  await dropRunDatabases({ staleOnly: false });
}
