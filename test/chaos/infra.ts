import { ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

export const PG_BIN = process.env.CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const REDIS_SERVER = process.env.CHAOS_REDIS_SERVER ?? 'redis-server';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it resolves true; fails naming `what` after `timeoutMs`. */
export async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs a command to its end; rejects with its output when it fails or outlives `timeoutMs`. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** Temporary directories made by this run, removed by {@link removeTempDirs}. */
const tempDirs: string[] = [];
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `analytics-chaos-${label}-`));
  tempDirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Redis of its own: a child process on a loopback port, its data in a temp dir, every write in the
 * append-only file before it is answered, and no eviction. Killed with SIGKILL and started again
 * on the same directory, it comes back with what its AOF holds.
 */
export class RedisServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly dir = tempDir('redis');
  log: string[] = [];

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
        '--save',
        '',
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => {
      this.log.push(...d.toString('utf8').split('\n').filter(Boolean));
      if (this.log.length > 100) this.log = this.log.slice(-100);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.exited = new Promise((r) => child.once('exit', () => r()));
    this.child = child;
    await until('redis to answer PING', () => this.ping(), 20_000, 50);
  }

  async ping(): Promise<boolean> {
    const r = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } finally {
      r.disconnect();
    }
  }

  /** SIGKILL: no shutdown, no final write; only what the AOF holds survives. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
    this.child = null;
  }
}

/**
 * A Postgres cluster of its own (initdb into a temp dir, trust auth, loopback port, its socket in
 * the temp dir). initdb and pg_ctl refuse to run as root, so as root they run as the `postgres`
 * user, which then owns the cluster's directory.
 */
export class PostgresCluster {
  readonly root = tempDir('pg');
  readonly data = join(this.root, 'data');
  private readonly logFile = join(this.root, 'postgres.log');
  private readonly asUser = process.getuid?.() === 0 ? (process.env.CHAOS_PG_USER ?? 'postgres') : null;

  constructor(readonly port: number) {}

  url(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  private cmd(bin: string, args: string[], timeoutMs?: number): Promise<string> {
    const path = join(PG_BIN, bin);
    return this.asUser
      ? run('runuser', ['-u', this.asUser, '--', path, ...args], timeoutMs)
      : run(path, args, timeoutMs);
  }

  async init(): Promise<void> {
    if (!existsSync(join(PG_BIN, 'initdb'))) throw new Error(`no initdb in ${PG_BIN} (set CHAOS_PG_BIN)`);
    if (this.asUser) {
      // The temp dir is the current user's and private: let the postgres user in, and own its part.
      chmodSync(this.root, 0o755);
      const uid = Number((await run('id', ['-u', this.asUser])).trim());
      const gid = Number((await run('id', ['-g', this.asUser])).trim());
      chownSync(this.root, uid, gid);
    }
    await this.cmd('initdb', ['-D', this.data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], 120_000);
  }

  private options(): string {
    // fsync stays on: an immediate stop is a crash of Postgres, and recovery replays the WAL.
    return [
      `-p ${this.port}`,
      `-c listen_addresses=127.0.0.1`,
      `-c unix_socket_directories=${this.root}`,
      `-c max_connections=200`,
      `-c shared_buffers=64MB`,
    ].join(' ');
  }

  async start(): Promise<void> {
    await this.cmd(
      'pg_ctl',
      ['-D', this.data, '-l', this.logFile, '-o', this.options(), '-w', '-t', '60', 'start'],
      90_000,
    );
    await until('postgres to accept connections', () => this.ready(), 30_000);
  }

  async ready(): Promise<boolean> {
    const c = new Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** `pg_ctl restart -m immediate`: every backend killed without a checkpoint, then crash recovery. */
  async restartImmediate(): Promise<void> {
    await this.cmd(
      'pg_ctl',
      ['-D', this.data, '-l', this.logFile, '-o', this.options(), '-m', 'immediate', '-w', '-t', '60', 'restart'],
      90_000,
    );
    await until('postgres to accept connections', () => this.ready(), 30_000);
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!existsSync(join(this.data, 'postmaster.pid'))) return;
    await this.cmd('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '30', 'stop'], 45_000).catch((err) => {
      // Last resort: the postmaster's pid, SIGKILL (its backends follow it down).
      const pid = Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      throw err;
    });
  }

  /** The last lines of the server log (for a failure report). */
  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}
