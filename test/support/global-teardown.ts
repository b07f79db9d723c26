import { rmSync } from 'node:fs';
import { ClickHouseServers } from './clickhouse-servers';
import { dropRunDatabases } from './database';

/** Drops the template and any database of this run that a test file left behind. */
export default async function globalTeardown(): Promise<void> {
  await dropRunDatabases({ staleOnly: false });
  for (const s of (globalThis as { clickHouseServers?: ClickHouseServers[] }).clickHouseServers ?? []) {
    s.stop();
    await new Promise((r) => setTimeout(r, 500)); // the servers let go of their files
    rmSync(s.dir, { recursive: true, force: true });
  }
}
