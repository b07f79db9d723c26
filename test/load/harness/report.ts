import { BacklogSummary } from './backlog';
import { CopyCeiling } from './copy-ceiling';
import { WorkFloor } from './work-floor';
import { fmt, Latency, pct } from './stats';
import { Verification } from './traffic';

/** One measured line: a service scenario or a baseline. */
export interface Row {
  key: string;
  name: string;
  kind: 'service' | 'baseline';
  mode: 'closed' | 'open';
  /** "50 connections" or "1,200 req/s offered" */
  load: string;
  batch: number | null;
  seconds: number;
  requests: number;
  req_per_s: number;
  latency_ms: Latency;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** per-process CPU shares during the load (1 = one core) */
  cpu: Record<string, number>;
  events_sent?: number;
  events_accepted?: number;
  events_accepted_per_s?: number;
  events_persisted?: number;
  events_persisted_per_s?: number;
  persisted_at_load_end?: number;
  verdicts?: Record<string, number>;
  problems?: {
    body_counts: number;
    verdicts: number;
    accepted_twice: number;
    unreadable_bodies: number;
    examples: string[];
  };
  verification?: Verification;
  backlog?: BacklogSummary;
  drain_seconds?: number;
  cpu_drain?: Record<string, number>;
  open_loop?: { offered_rate: number; scheduled: number; send_lag_p99_ms: number; tail_seconds: number };
}

export interface Target {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  pass: boolean | null;
}

/** The degradation run: the worker stopped for one phase of open-loop batches, restarted for the next. */
export interface Degradation {
  threshold_jobs: number;
  offered_rate: number;
  phase_seconds: number;
  worker_back_after_s: number;
  /** per second of load: answers by status, backlog and Redis memory at the second's end */
  timeline: {
    second: number;
    worker: 'stopped' | 'starting' | 'running';
    accepted_202: number;
    refused_503: number;
    other: number;
    backlog_jobs: number;
    redis_mb: number;
  }[];
  /** the distinct Retry-After values of the 503 answers */
  retry_after: string[];
  backlog_max: number;
  redis_mb_before: number;
  redis_mb_max: number;
  first_503_s: number | null;
  reopened_s: number | null;
  drained_after_load_s: number;
  events_accepted: number;
  verification: Verification;
}

/** The machine and software a run measured. */
export interface Machine {
  cpus: number;
  cpu_model: string | undefined;
  memory_gib: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
}

/** The run's settings: those the summary line names, and the rest as recorded. */
export interface RunSettings {
  seconds: number;
  connections: number;
  batch_connections: number;
  [setting: string]: unknown;
}

export interface Report {
  started_at: string;
  finished_at?: string;
  machine: Machine;
  settings: RunSettings;
  rows: Row[];
  copy?: CopyCeiling;
  floor?: WorkFloor;
  degradation?: Degradation;
  targets: Target[];
  failures: string[];
  /** Tables of a partial run (LOAD_ONLY=telemetry), in Markdown. */
  notes?: string[];
}

const notOk = (statuses: Record<string, number>, ok: number) =>
  Object.entries(statuses)
    .filter(([s]) => Number(s) !== ok)
    .map(([s, n]) => `${s}: ${fmt(n)}`)
    .join(', ');

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function figuresTable(r: Report): string {
  const rows = r.rows.map((x) => {
    const failed = [
      notOk(x.statuses, 202),
      x.errors ? `errors: ${fmt(x.errors)}` : '',
      x.timeouts ? `timeouts: ${fmt(x.timeouts)}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const v = x.verification;
    return [
      x.name,
      x.load,
      fmt(x.req_per_s),
      fmt(x.events_accepted_per_s),
      fmt(x.events_persisted_per_s),
      fmt(x.latency_ms.p50, 1),
      fmt(x.latency_ms.p95, 1),
      fmt(x.latency_ms.p99, 1),
      failed || '0',
      x.backlog ? `${fmt(x.backlog.min)} / ${fmt(x.backlog.max)} / ${fmt(x.backlog.last)}` : '',
      x.backlog ? x.backlog.trend : '',
      x.drain_seconds !== undefined ? `${fmt(x.drain_seconds, 1)} s` : '',
      v
        ? v.ok
          ? `yes (${fmt(v.rows)})`
          : `**NO**: ${v.lost} lost, ${v.stored_twice} twice, ${v.stored_not_accepted} not accepted`
        : '',
    ];
  });
  if (r.copy) {
    rows.push([
      'raw COPY into analytics_events_raw',
      `${fmt(r.copy.rows)} rows, ${r.copy.streams} streams × ${fmt(r.copy.chunk_rows)}-row chunks`,
      '',
      '',
      fmt(r.copy.rows_per_s),
      '',
      '',
      '',
      '0',
      '',
      '',
      '',
      `${fmt(r.copy.counted)} counted`,
    ]);
  }
  return table(
    [
      'scenario',
      'load',
      'req/s',
      'events/s accepted',
      'events/s persisted',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'not 202',
      'backlog min / max / last (jobs)',
      'backlog',
      'drained after load',
      'every accepted event stored once',
    ],
    rows,
  );
}

/** "57 %", or "57 % (12 % other databases)" when other databases' backends were busy too. */
function postgresShare(cpu: Record<string, number>): string {
  const other = cpu.postgres_other_databases ?? 0;
  return other >= 0.01 ? `${pct(cpu.postgres)} (${pct(other)} other databases)` : pct(cpu.postgres);
}

/** CPU share of this run's processes: the machine's busy time less other work (1 = one core). */
export function ownCpu(cpu: Record<string, number>): number {
  return cpu.machine - (cpu.other ?? 0) - (cpu.postgres_other_databases ?? 0);
}

export function cpuTable(r: Report): string {
  const cores = r.rows.find((x) => x.cpu.cores)?.cpu.cores ?? 2;
  // CPU time of this run's processes per event accepted (service) or per request (baselines), in microseconds.
  const perUnit = (x: Row) => {
    const per = x.kind === 'service' ? x.events_accepted_per_s : x.req_per_s;
    return per ? `${fmt((ownCpu(x.cpu) * 1e6) / per)} µs per ${x.kind === 'service' ? 'event' : 'request'}` : '';
  };
  const rows = r.rows.map((x) => [
    x.name,
    x.kind === 'service' ? pct(x.cpu.api) : '',
    x.kind === 'service' ? pct(x.cpu.worker) : '',
    postgresShare(x.cpu),
    pct(x.cpu.redis),
    pct(x.cpu.generator),
    x.kind === 'baseline' ? pct(x.cpu.server) : '',
    `${pct(x.cpu.machine)} of ${cores * 100} %`,
    pct(x.cpu.other),
    perUnit(x),
  ]);
  if (r.copy) {
    const c = r.copy.cpu;
    rows.push([
      'raw COPY',
      '',
      '',
      postgresShare(c),
      pct(c.redis),
      pct(c.generator),
      '',
      `${pct(c.machine)} of ${cores * 100} %`,
      pct(c.other),
      `${fmt((ownCpu(c) * 1e6) / r.copy.rows_per_s)} µs per row`,
    ]);
  }
  return table(
    [
      'scenario',
      'api',
      'worker',
      'postgres (all processes)',
      'redis',
      'load generator',
      'bare server',
      'machine busy',
      'other',
      'CPU of this run',
    ],
    rows,
  );
}

export function targetsTable(r: Report): string {
  return table(
    ['figure', 'service', 'baseline', 'ratio', 'target', ''],
    r.targets.map((t) => [
      t.figure,
      t.value,
      t.baseline,
      t.ratio,
      t.target,
      t.pass === null ? 'info' : t.pass ? 'pass' : '**miss**',
    ]),
  );
}

/** Scenarios during which other work took more than 15 % of a core (their figures are disturbed). */
export function interference(r: Report): string {
  const busy = [
    ...r.rows.map((x) => ({ name: x.name, cpu: x.cpu })),
    ...(r.copy ? [{ name: 'raw COPY', cpu: r.copy.cpu }] : []),
  ]
    .map((x) => ({ name: x.name, share: (x.cpu.other ?? 0) + (x.cpu.postgres_other_databases ?? 0) }))
    .filter((x) => x.share > 0.15);
  return busy.length
    ? `Other work on the machine (processes not of this run, other databases' backends) during: ${busy.map((x) => `${x.name} (${pct(x.share)})`).join(', ')}.`
    : 'No other work on the machine above 15 % of a core during any scenario.';
}

export function markdown(r: Report): string {
  const m = r.machine;
  return [
    `# Load run ${r.started_at}`,
    '',
    `${m.cpus} × ${m.cpu_model}, ${m.memory_gib} GiB, ${m.os}; Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}. ` +
      `${r.settings.seconds} s per scenario, ${r.settings.connections} connections for single events, ${r.settings.batch_connections} for batches.`,
    '',
    '## Figures',
    '',
    figuresTable(r),
    '',
    '## CPU share during the load (100 % = one core)',
    '',
    cpuTable(r),
    '',
    interference(r),
    '',
    ...(r.degradation
      ? ['## Graceful degradation (worker stopped, then restarted)', '', degradationTable(r.degradation), '']
      : []),
    '## Targets and ratios',
    '',
    targetsTable(r),
    '',
    r.failures.length
      ? `## FAILED\n\n${r.failures.map((f) => `- ${f}`).join('\n')}\n`
      : 'Every event answered accepted is in Postgres exactly once; nothing refused was stored.\n',
  ].join('\n');
}

/** The degradation run: a summary line and the per-second timeline. */
export function degradationTable(d: Degradation): string {
  const summary =
    `Batches of 100 at ${fmt(d.offered_rate)} req/s offered (open loop), ${d.phase_seconds} s with the worker stopped, then ${d.phase_seconds} s ` +
    `after starting it again (consuming after ${fmt(d.worker_back_after_s, 1)} s); ANALYTICS_MAX_QUEUE_BACKLOG ${fmt(d.threshold_jobs)} jobs. ` +
    `First 503 at ${d.first_503_s ?? '–'} s (Retry-After: ${d.retry_after.join(', ') || '–'}), backlog at most ${fmt(d.backlog_max)} jobs, ` +
    `Redis ${fmt(d.redis_mb_before, 1)} MB before and at most ${fmt(d.redis_mb_max, 1)} MB; ingestion accepting again at ${d.reopened_s ?? '–'} s; ` +
    `backlog drained ${fmt(d.drained_after_load_s, 1)} s after the load; ${fmt(d.events_accepted)} events accepted, ${fmt(d.verification.rows)} stored, ` +
    `${d.verification.ok ? 'each once, none of the refused' : 'MISMATCH'}.`;
  return `${summary}\n\n${table(
    ['second', 'worker', '202', '503', 'other', 'backlog (jobs)', 'Redis MB'],
    d.timeline.map((t) => [
      String(t.second),
      t.worker,
      fmt(t.accepted_202),
      fmt(t.refused_503),
      fmt(t.other),
      fmt(t.backlog_jobs),
      fmt(t.redis_mb, 1),
    ]),
  )}`;
}
