import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { waitFor } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';
import { freePort, runRole, startApiProcess } from './support/worker-process';

const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A redis-server of the test's own, on a free port in a temp dir, without persistence. */
async function ownRedis(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'analytics-redis-'));
  const server: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => server.on('exit', () => r()));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await waitFor('the test redis-server to answer', async () => {
    try {
      if (probe.status !== 'ready') await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    }
  });
  probe.disconnect();
  return {
    url,
    stop: async () => {
      server.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('production start-up checks what an acknowledgement is worth in Redis', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { api: false, worker: false });
  });
  afterAll(async () => {
    await t.close();
  });
  const production = (over: Record<string, string> = {}) => ({
    ...t.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'log',
    ...over,
  });
  const AOF_WARNING =
    /Redis at 127\.0\.0\.1:\d+ \(REDIS_URL\) has no AOF \(appendonly no\): a Redis restart loses the queued jobs, so events acknowledged 202 but not yet stored are lost; set appendonly yes/;

  it('the shared Redis (noeviction, no AOF): the api starts and warns once that acknowledged events are lost on a Redis restart', async () => {
    const shared = new Redis(SHARED_REDIS);
    try {
      expect(await shared.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await shared.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    } finally {
      shared.disconnect();
    }
    const api = await startApiProcess(production());
    api.child.kill('SIGTERM');
    expect((await api.exited).code).toBe(0);
    await api.closed;
    expect(api.stdout.split('\n').filter((l) => AOF_WARNING.test(l))).toHaveLength(1);
    expect(api.stdout + api.stderr).not.toMatch(/CONFIG GET/);
  });

  it('a Redis that may evict keys (allkeys-lru): api and worker refuse to start, naming the setting', async () => {
    const redis = await ownRedis(['--maxmemory-policy', 'allkeys-lru']);
    try {
      for (const script of ['main.js', 'worker.js'] as const) {
        const role = runRole(script, production({ REDIS_URL: redis.url }));
        const { code } = await role.exited;
        await role.closed;
        expect(code).toBe(1);
        const lines = role.stderr.trim().split('\n');
        expect(lines).toEqual([
          `${script === 'main.js' ? 'api' : 'worker'}: Redis at ${redis.url.slice('redis://'.length)} (REDIS_URL) has maxmemory-policy allkeys-lru: it may evict queued jobs and dedupe keys under memory pressure, losing acknowledged events; set maxmemory-policy noeviction`,
        ]);
        expect(role.stdout).not.toMatch(/Listening on|Consuming queues/);
      }
    } finally {
      await redis.stop();
    }
  });

  it('outside production the same Redis is not checked: a development-like start is not refused', async () => {
    const redis = await ownRedis(['--maxmemory-policy', 'allkeys-lru']);
    try {
      const api = await startApiProcess({ ...production({ REDIS_URL: redis.url }), NODE_ENV: 'test' });
      api.child.kill('SIGTERM');
      expect((await api.exited).code).toBe(0);
      await api.closed;
      expect(api.stdout).not.toMatch(/maxmemory-policy|appendonly/);
    } finally {
      await redis.stop();
    }
  });

  it('CONFIG disabled (managed Redis): read from INFO instead, saying so, and the AOF warning still comes', async () => {
    const redis = await ownRedis(['--rename-command', 'CONFIG', '']);
    try {
      const api = await startApiProcess(production({ REDIS_URL: redis.url }));
      api.child.kill('SIGTERM');
      expect((await api.exited).code).toBe(0);
      await api.closed;
      const where = redis.url.slice('redis://'.length).replace(/\./g, '\\.');
      expect(api.stdout).toMatch(
        new RegExp(
          `Redis at ${where} \\(REDIS_URL\\) refused CONFIG GET \\(ERR unknown command 'config'[^)]*\\); read INFO instead`,
        ),
      );
      expect(api.stdout.split('\n').filter((l) => AOF_WARNING.test(l))).toHaveLength(1);
    } finally {
      await redis.stop();
    }
  });

  it('CONFIG disabled and the policy read from INFO is allkeys-lru: refused all the same', async () => {
    const redis = await ownRedis(['--rename-command', 'CONFIG', '', '--maxmemory-policy', 'allkeys-lru']);
    try {
      const role = runRole('worker.js', production({ REDIS_URL: redis.url }));
      expect((await role.exited).code).toBe(1);
      await role.closed;
      expect(role.stderr).toMatch(/has maxmemory-policy allkeys-lru: .*set maxmemory-policy noeviction\n$/);
    } finally {
      await redis.stop();
    }
  });
});
