import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of processes from /proc: utime + stime (fields 14 and 15 of /proc/<pid>/stat, in clock
 * ticks). A share is CPU seconds over wall seconds, so the two cores of this machine are 200 %.
 */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime, stime, cutime, cstime of a process in seconds, or null when it is gone. */
function readStat(pid: number): { own: number; children: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state), so field n is f[n - 3].
  const ticks = (n: number) => Number(f[n - 3]);
  return { own: (ticks(14) + ticks(15)) / CLK_TCK, children: (ticks(16) + ticks(17)) / CLK_TCK };
}

/** Pids whose command name (/proc/<pid>/comm) is exactly `comm`. */
export function pidsByComm(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** Busy and total seconds of the whole machine, summed over its cores (/proc/stat). */
function machineSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = v[3] + (v[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** The processes a scenario is measured on: named pids, plus every postgres and redis-server process. */
export interface Watched {
  [name: string]: number | undefined;
}

export interface CpuSnapshot {
  at: number;
  seconds: Record<string, number>;
  /** own seconds of each live backend of another database, by pid */
  foreignPostgres: Map<number, number>;
  self: NodeJS.CpuUsage;
  machine: { busy: number; total: number };
}

/** Databases of this run: backends of any other database are someone else's work. */
let ownDatabases = new Set<string>();
export function setOwnDatabases(names: string[]): void {
  ownDatabases = new Set(names);
}

/** The database a postgres backend serves, from its process title, or null for shared processes. */
function backendDatabase(pid: number): string | null {
  let title: string;
  try {
    title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return null;
  }
  // "postgres: 15/main: <user> <database> <host>(<port>) <state>", "postgres: 15/main: autovacuum worker <database>"
  const m = /^postgres: [^:]+: (?:autovacuum worker (\S+)|(?:\S+) (\S+) (?:\S+\(\d+\)|\[local\]))/.exec(title);
  return m ? (m[1] ?? m[2]) : null;
}

/**
 * Postgres processes come and go with connections: their own time is summed over the live ones,
 * plus the children time of each (the postmaster's cutime/cstime holds every backend it reaped),
 * so a backend that exits within the window is still counted. Backends of databases not of this
 * run are also listed apart, per pid.
 */
function postgresSeconds(): { all: number; foreign: Map<number, number> } {
  let all = 0;
  const foreign = new Map<number, number>();
  for (const pid of pidsByComm('postgres')) {
    const st = readStat(pid);
    if (!st) continue;
    all += st.own + st.children;
    const db = backendDatabase(pid);
    if (db !== null && !ownDatabases.has(db)) foreign.set(pid, st.own);
  }
  return { all, foreign };
}

function groupSeconds(comm: string): number {
  let s = 0;
  for (const pid of pidsByComm(comm)) {
    const st = readStat(pid);
    if (st) s += st.own + st.children;
  }
  return s;
}

export function cpuSnapshot(watched: Watched): CpuSnapshot {
  const seconds: Record<string, number> = {};
  for (const [name, pid] of Object.entries(watched)) {
    if (pid === undefined) continue;
    const st = readStat(pid);
    seconds[name] = st ? st.own : NaN;
  }
  const pg = postgresSeconds();
  seconds.postgres = pg.all;
  seconds.redis = groupSeconds('redis-server');
  return {
    at: performance.now(),
    seconds,
    foreignPostgres: pg.foreign,
    self: process.cpuUsage(),
    machine: machineSeconds(),
  };
}

/**
 * Shares (1 = one core) between two snapshots: each watched process, postgres, redis, the load
 * generator (this process), the whole machine's busy time, and `other`: machine busy time that
 * none of those account for (anything else running on the machine). `postgres` counts every
 * postgres process; `postgres_other_databases` is the part of it serving other databases' backends.
 */
export function cpuShares(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const wall = (b.at - a.at) / 1000;
  const out: Record<string, number> = {};
  let listed = 0;
  for (const name of Object.keys(b.seconds)) {
    const d = b.seconds[name] - (a.seconds[name] ?? 0);
    out[name] = d / wall;
    if (Number.isFinite(d)) listed += d;
  }
  const self = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6;
  out.generator = self / wall;
  listed += self;
  let foreign = 0;
  for (const [pid, sec] of b.foreignPostgres) foreign += Math.max(0, sec - (a.foreignPostgres.get(pid) ?? 0));
  // Part of postgres, not of `listed` twice: shown apart to tell someone else's queries from ours.
  out.postgres_other_databases = foreign / wall;
  const busy = b.machine.busy - a.machine.busy;
  const cores = (b.machine.total - a.machine.total) / wall;
  out.machine = busy / wall;
  out.other = Math.max(0, busy - listed) / wall;
  out.cores = Math.round(cores);
  return out;
}
