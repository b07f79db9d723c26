import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import Redis from 'ioredis';
import { MIGRATIONS } from '../migrations';
import { waitFor } from './support/events';
import { runDatabase, urlFor, withAdmin } from './support/database';
import { freePort, runRole } from './support/worker-process';

describe('roles starting together on a fresh database', () => {
  const id = randomBytes(3).toString('hex');
  const db = runDatabase(`race${id}`);
  const prefix = `t_race_${id}`;
  afterAll(async () => {
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });

  it('4 workers and 2 apis: all become ready, none exits; the database is created and migrated once, each partition and the demo tenant made once', async () => {
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    const env = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'log',
      HOST: '127.0.0.1',
      DATABASE_URL: urlFor(db),
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      ANALYTICS_REDIS_PREFIX: prefix,
    };
    const ports = [await freePort(), await freePort()];
    const roles = [
      ...ports.map((port) => ({ ready: /Listening on/, p: runRole('main.js', { ...env, PORT: String(port) }) })),
      ...[0, 1, 2, 3].map(() => ({ ready: /Consuming queues/, p: runRole('worker.js', env) })),
    ];
    const exits: string[] = [];
    roles.forEach(({ p }, i) => void p.exited.then(({ code, signal }) => exits.push(`role ${i}: ${signal ?? code}`)));
    try {
      await waitFor(
        'every role to be ready',
        () => {
          if (exits.length)
            throw new Error(`${exits.join(', ')} exited:\n${roles.map(({ p }) => p.stdout + p.stderr).join('\n')}`);
          return roles.every(({ ready, p }) => ready.test(p.stdout));
        },
        90000,
        100,
      );
      const output = roles.map(({ p }) => p.stdout).join('\n');
      expect(output.match(/Created database /g)).toHaveLength(1);
      expect(output.match(/Applied migrations: /g)).toHaveLength(1);
      expect(output.match(/Created demo tenant /g)).toHaveLength(1);

      const c = new Client({ connectionString: urlFor(db) });
      await c.connect();
      try {
        const migrations = await c.query<{ name: string; n: number }>(
          'SELECT name, count(*)::int AS n FROM analytics_migrations GROUP BY name ORDER BY min(id)',
        );
        expect(migrations.rows).toEqual(MIGRATIONS.map((M) => ({ name: M.name, n: 1 })));
        const partitions = await c.query<{ relname: string }>(
          `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'analytics_events_raw'::regclass ORDER BY 1`,
        );
        // today and 7 days ahead (a start across midnight UTC may add the next day)
        expect(partitions.rows.length).toBeGreaterThanOrEqual(8);
        expect(partitions.rows.length).toBeLessThanOrEqual(9);
        const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
        expect(partitions.rows.map((r) => r.relname)).toContain(`analytics_events_raw_p${today}`);
        expect((await c.query('SELECT count(*)::int AS n FROM analytics_tenants')).rows[0].n).toBe(1);
      } finally {
        await c.end();
      }
      expect(exits).toEqual([]);
    } finally {
      for (const { p } of roles) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    }
    const results = await Promise.all(roles.map(({ p }) => p.exited));
    expect(results).toEqual(roles.map(() => ({ code: 0, signal: null })));
    await Promise.all(roles.map(({ p }) => p.closed));
  }, 150000);
});
