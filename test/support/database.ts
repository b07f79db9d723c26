import { Client } from 'pg';

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * Each jest run names its databases after the process that owns the run (global setup exports it to
 * the workers), so two runs against one Postgres never drop each other's databases.
 */
export const RUN_ID = process.env.ANALYTICS_TEST_RUN ?? String(process.pid);
export const TEMPLATE_DB = `analytics_tpl_${RUN_ID}`;

/** The name of a database that belongs to this run. */
export function runDatabase(suffix: string): string {
  return `analytics_t_${RUN_ID}_${suffix}`;
}

/** The pid of the run a test database belongs to, or null for a name this suite did not make. */
export function runOwner(datname: string): number | null {
  const m = /^analytics_(?:tpl|t)_(\d+)(?:_|$)/.exec(datname);
  return m ? Number(m[1]) : null;
}

export function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Drops the databases of this run, or (with `staleOnly`) those left by runs whose process is gone. */
export async function dropRunDatabases(opts: { staleOnly: boolean }): Promise<void> {
  await withAdmin(async (c) => {
    const rows = await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'analytics\\_t\\_%' OR datname LIKE 'analytics\\_tpl\\_%'`,
    );
    for (const { datname } of rows.rows) {
      const owner = runOwner(datname);
      if (owner === null) continue;
      const mine = String(owner) === RUN_ID;
      if (opts.staleOnly ? mine || alive(owner) : !mine) continue;
      await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
