import { readdirSync, readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { waitFor } from './support/events';
import { request } from './support/test-env';
import { runDatabase, urlFor, withAdmin } from './support/database';
import { freePort, runRole } from './support/worker-process';

const BASE = { NODE_ENV: 'test', LOG_LEVEL: 'error', ANALYTICS_AUTO_MIGRATE: 'false' };

/** Runs a role that must refuse to start; returns its stderr lines. */
async function refusal(script: 'main.js' | 'worker.js', env: Record<string, string>): Promise<string[]> {
  const role = runRole(script, { ...BASE, ...env });
  const { code } = await role.exited;
  expect(code).toBe(1);
  return role.stderr.trim().split('\n');
}

describe('start-up stops with one clear line', () => {
  it.each([
    [
      'ANALYTICS_MAX_BATCH_SIZE',
      'abc',
      /^api: Invalid configuration: ANALYTICS_MAX_BATCH_SIZE must be an integer number.*\(got "abc"\)$/,
    ],
    ['ANALYTICS_MAX_BATCH_SIZE', '0', /ANALYTICS_MAX_BATCH_SIZE must not be less than 1 \(got "0"\)$/],
    ['ANALYTICS_ENABLE_ROLLUPS', 'maybe', /ANALYTICS_ENABLE_ROLLUPS must be a boolean value \(got "maybe"\)$/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL \(got "mysql:\/\/x"\)$/],
    ['REDIS_URL', 'localhost:6379', /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    ['PORT', '70000', /PORT must not be greater than 65535/],
  ])('a bad %s=%s names the variable', async (name, value, message) => {
    const lines = await refusal('main.js', { [name]: value });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('an unreachable Postgres names DATABASE_URL and the address (api and worker)', async () => {
    const port = await freePort();
    for (const script of ['main.js', 'worker.js'] as const) {
      const lines = await refusal(script, { DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/analytics` });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^(api|worker): Cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}/analytics \\(DATABASE_URL\\): .*ECONNREFUSED`,
        ),
      );
    }
  });

  it('an unreachable Redis names REDIS_URL and the address', async () => {
    const port = await freePort();
    const lines = await refusal('worker.js', {
      DATABASE_URL: urlFor('postgres'),
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^worker: Cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(REDIS_URL\\): .*ECONNREFUSED`),
    );
  });

  it('a missing database without auto-migrate says how to create it', async () => {
    const lines = await refusal('main.js', { DATABASE_URL: urlFor('analytics_t_missing') });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /database "analytics_t_missing" does not exist; run npm run migration:run or set ANALYTICS_AUTO_MIGRATE=true/,
    );
  });
});

describe('one command starts both roles; in development the database is created and migrated', () => {
  const db = runDatabase('launcher');
  afterAll(() => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)));

  it('creates the database, migrates it, serves health, and stops both roles on SIGTERM', async () => {
    await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    const port = await freePort();
    const svc = runRole('launcher.js', {
      NODE_ENV: 'development',
      LOG_LEVEL: 'log',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: urlFor(db),
      ANALYTICS_REDIS_PREFIX: `t_launcher_${port}`,
      ANALYTICS_WORKER_NICE: '10',
    });
    try {
      await waitFor(
        'the api to answer /health',
        async () => {
          try {
            return (await request(`http://127.0.0.1:${port}/api/v1/analytics/health`)).status === 200;
          } catch {
            return false;
          }
        },
        30000,
        200,
      );
      await waitFor('the worker to start', () => svc.stdout.includes('Consuming queues'), 15000);
      // Once both roles have reported ready, the launcher prints a Ready line and then the demo keys.
      await waitFor(
        'the demo keys after the ready line',
        () => Promise.resolve(/^\s+admin\s+ak_\S+$/m.test(svc.stdout)),
        15000,
      );
      // Asked to, the worker yields the CPU to the api (ANALYTICS_WORKER_NICE), every thread of it.
      expect(svc.stdout).toMatch(/Running at CPU priority 10 \(nice, ANALYTICS_WORKER_NICE\)/);
      const roles = readFileSync(`/proc/${svc.child.pid}/task/${svc.child.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .map((pid) => ({
          script: readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker.js') ? 'worker' : 'api',
          nice: readdirSync(`/proc/${pid}/task`).map((tid) =>
            Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]),
          ),
        }));
      expect(roles.find((r) => r.script === 'worker')!.nice.every((n) => n === 10)).toBe(true);
      expect(roles.find((r) => r.script === 'api')!.nice.every((n) => n === 0)).toBe(true);
      expect(svc.stdout).toMatch(new RegExp(`Created database ${db}`));
      expect(svc.stdout).toMatch(/Applied migrations: CreateRawEventsAndLedger/);
      const tables = await withAdmin(async () => {
        const { Client } = await import('pg');
        const d = new Client({ connectionString: urlFor(db) });
        await d.connect();
        try {
          return (
            await d.query(
              `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'analytics_events_raw'::regclass`,
            )
          ).rows[0].n;
        } finally {
          await d.end();
        }
      });
      expect(tables).toBe(8); // today and 7 days ahead

      // First start in development: a demo tenant with one key per scope, printed once.
      const demo = /Created demo tenant ([0-9a-f-]{36}) \(operator\)/.exec(svc.stdout);
      expect(demo).not.toBeNull();
      const ingestKey = /^\s+ingest\s+(ak_\S+)$/m.exec(svc.stdout)![1];
      // The demo tenant and its keys are the last lines of start-up: right after the launcher's Ready line,
      // itself after every line of both roles' start-up.
      const lines = svc.stdout.split('\n');
      const readyAt = lines.findIndex((l) =>
        /^Ready: api at http:\/\/127\.0\.0\.1:\d+, worker consuming queues/.test(l),
      );
      expect(readyAt).toBeGreaterThan(0);
      expect(lines.filter((l) => l.startsWith('Ready: '))).toHaveLength(1);
      for (const startUp of [
        /Created database/,
        /Applied migrations/,
        /Partitions ready/,
        /Listening on/,
        /Consuming queues/,
      ]) {
        const at = lines.findIndex((l) => startUp.test(l));
        expect({ line: String(startUp), before: at >= 0 && at < readyAt }).toEqual({
          line: String(startUp),
          before: true,
        });
      }
      const block = lines.slice(readyAt + 1).filter((l) => l.trim() !== '');
      expect(block.slice(0, 4).map((l) => l.replace(/ak_\S+/, 'ak_…').replace(/[0-9a-f-]{36}/, 'ID'))).toEqual([
        'Created demo tenant ID (operator) with these API keys, shown only now:',
        '  ingest ak_…',
        '  report ak_…',
        '  admin  ak_…',
      ]);
      for (const later of block.slice(4))
        expect(later).not.toMatch(/Listening on|Consuming queues|Mapped \{|Partition/);
      const event = {
        event_id: '3f9a1c2e-8b7d-4e6f-a5c4-b3a2918e7d6c',
        event_name: 'voice.turn_started',
        occurred_at: new Date().toISOString(),
        tenant_id: demo![1],
        source: 'voice_ws',
        attributes: { 'voice.session_id': 'vs-1', 'voice.turn_id': 't-1' },
      };
      const sent = await request(`http://127.0.0.1:${port}/api/v1/analytics/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ingestKey}` },
        body: JSON.stringify(event),
      });
      expect(sent.json).toEqual({ index: 0, event_id: event.event_id, status: 'accepted' });
    } finally {
      svc.child.kill('SIGTERM');
    }
    const { code } = await svc.exited;
    expect(code).toBe(0);
    // The launcher's own Redis prefix: its queues and schedulers are this test's to remove.
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      const keys = await redis.keys(`t_launcher_${port}:*`);
      if (keys.length) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });
});
