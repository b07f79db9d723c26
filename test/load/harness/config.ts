/** Settings of the load harness, read once from the environment. */

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got ${JSON.stringify(raw)})`);
  return n;
}

function optionalPositive(name: string): number | null {
  return process.env[name] ? positive(name, 0) : null;
}

export const settings = {
  /** Seconds of load per scenario and per baseline. */
  seconds: positive('LOAD_SECONDS', 15),
  /** autocannon connections for single events (and the single-event baselines). */
  connections: Math.round(positive('LOAD_CONNECTIONS', 50)),
  /** autocannon connections for batches (and the batch baselines). */
  batchConnections: Math.round(positive('LOAD_BATCH_CONNECTIONS', 10)),
  /** Offered rate of the open-loop single-event run, req/s; by default half the bare-Express rate. */
  openRate: optionalPositive('LOAD_RATE'),
  /** Offered rate of the open-loop batch-of-100 run, req/s; by default 40 % of the closed-loop batch-of-100 rate sustained (persisted events/s ÷ 100). */
  openBatchRate: optionalPositive('LOAD_BATCH_RATE'),
  /** Most sockets the open-loop generator opens. */
  openSockets: Math.round(positive('LOAD_OPEN_SOCKETS', 512)),
  /** Rows written by the COPY baseline, and rows per COPY statement. */
  copyRows: Math.round(positive('LOAD_COPY_ROWS', 300_000)),
  copyChunk: Math.round(positive('LOAD_COPY_CHUNK', 5_000)),
  copyStreams: Math.round(positive('LOAD_COPY_STREAMS', 2)),
  /** ANALYTICS_MAX_QUEUE_BACKLOG of the service: the degradation run (worker stopped) reaches it. */
  maxBacklog: Math.round(positive('LOAD_MAX_BACKLOG', 300)),
  /** Longest wait for the queue to drain after a scenario, seconds. */
  drainTimeout: positive('LOAD_DRAIN_TIMEOUT', 300),
  /** Extra node options for the api and the worker, e.g. '--cpu-prof --cpu-prof-dir=results/profiles'. */
  nodeArgs: (process.env.LOAD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  adminUrl: process.env.LOAD_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  /** Body limit of the service (its default) and of the bare baselines. */
  maxPayloadKb: 500,
  database: 'analytics_load',
  copyDatabase: 'analytics_load_copy',
  redisPrefix: `load${process.pid}`,
};

export const EVENTS_PATH = '/api/v1/analytics/events';
export const BATCH_PATH = '/api/v1/analytics/events/batch';

export function dbUrl(name: string): string {
  const u = new URL(settings.adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
