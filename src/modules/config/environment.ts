import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;

/**
 * Every environment variable the service reads, with its default. Validated once at start-up;
 * the rest of the code sees only the typed {@link AnalyticsConfig}.
 */
export class Environment {
  @IsIn(['development', 'test', 'production'])
  NODE_ENV: string = 'development';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 3000;

  @IsString()
  HOST: string = '0.0.0.0';

  @Matches(/^postgres(ql)?:\/\/[^\s]+$/, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_URL: string = 'postgresql://postgres@127.0.0.1:5432/analytics';

  /** Where events, rollups and the reports over them live; tenants, keys, schemas, consent and the ledger stay in Postgres. */
  @IsIn(['postgres', 'clickhouse'])
  ANALYTICS_STORAGE: string = 'postgres';

  /**
   * ClickHouse's HTTP interface, e.g. http://default:@127.0.0.1:8123. With CLICKHOUSE_CLUSTER, a
   * comma-separated list of one URL per shard (queries go to the first, DDL and mutations to each).
   */
  @Matches(/^https?:\/\/[^\s,]+(,https?:\/\/[^\s,]+)*$/, {
    message: 'must be an http:// or https:// URL (or, with CLICKHOUSE_CLUSTER, a comma-separated list of them)',
  })
  CLICKHOUSE_URL: string = 'http://127.0.0.1:8123';

  @Matches(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: 'must be a ClickHouse identifier (letters, digits, "_")' })
  CLICKHOUSE_DATABASE: string = 'analytics';

  /** A cluster of remote_servers: tables are local on each shard, read and written through Distributed tables. */
  @IsOptional()
  @Matches(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, {
    message: 'must be a cluster name of remote_servers (letters, digits, "_")',
  })
  CLICKHOUSE_CLUSTER?: string;

  /** Deadline of the api's reads that serve a request (key rows, tenant schemas, the ledger). */
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(60_000)
  ANALYTICS_DB_READ_TIMEOUT_MS: number = 1000;

  /** How long a cached key or tenant row may keep serving while Postgres cannot be read. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(24 * 3600 * 1000)
  ANALYTICS_STALE_KEY_MAX_MS: number = 10 * 60 * 1000;

  @Matches(/^rediss?:\/\/[^\s]+$/, { message: 'must be a redis:// or rediss:// URL' })
  REDIS_URL: string = 'redis://127.0.0.1:6379';

  @Matches(/^[A-Za-z0-9:_-]{1,64}$/, { message: 'must be 1-64 characters of letters, digits, ":", "_" or "-"' })
  ANALYTICS_REDIS_PREFIX: string = 'analytics';

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10000)
  ANALYTICS_MAX_BATCH_SIZE: number = 500;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10240)
  ANALYTICS_MAX_PAYLOAD_KB: number = 500;

  /** Largest OTLP export body in KB, decompressed (exporters batch up to 512 spans or records). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10240)
  ANALYTICS_OTLP_MAX_PAYLOAD_KB: number = 4096;

  /** Tenants (comma-separated ids) whose OTLP message content (prompts, answers, tool arguments) is kept, sanitized; every other tenant's is dropped. */
  @Matches(/^([0-9a-fA-F-]{36}(\s*,\s*[0-9a-fA-F-]{36})*)?$/, { message: 'must be tenant ids separated by commas' })
  ANALYTICS_OTLP_KEEP_CONTENT_TENANTS: string = '';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(7 * 24 * 3600 * 1000)
  ANALYTICS_CLOCK_SKEW_TOLERANCE_MS: number = 24 * 3600 * 1000;

  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(7 * 24 * 3600 * 1000)
  ANALYTICS_DEDUPE_WINDOW_MS: number = 60 * 1000;

  /** Bits of each seen-filter (per tenant and day of occurred_at) that tells a resend after the window. */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(2 ** 32)
  ANALYTICS_SEEN_FILTER_BITS: number = 2 ** 22;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  ANALYTICS_RETENTION_DAYS: number = 90;

  @Transform(toBool)
  @IsBoolean()
  ANALYTICS_ENABLE_ROLLUPS: boolean = true;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(36500)
  ANALYTICS_ROLLUP_RETENTION_DAYS: number = 730;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3650)
  ANALYTICS_MINUTE_ROLLUP_RETENTION_DAYS: number = 14;

  /** How often the worker folds pending events into rollups when no job kicked it (ms). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(60000)
  ANALYTICS_ROLLUP_FOLD_INTERVAL_MS: number = 200;

  /** Most events folded in one rollup transaction. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100000)
  ANALYTICS_ROLLUP_FOLD_BATCH: number = 5000;

  @Transform(toBool)
  @IsBoolean()
  ANALYTICS_DEBUG_MODE: boolean = false;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  ANALYTICS_AUTO_MIGRATE?: boolean;

  @Transform(toBool)
  @IsBoolean()
  ANALYTICS_SWAGGER_ENABLED: boolean = true;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1000)
  ANALYTICS_BATCH_LINGER_MS: number = 5;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  ANALYTICS_MAX_QUEUE_BACKLOG: number = 10000;

  @Transform(toInt)
  @IsInt()
  @Min(2)
  @Max(256)
  ANALYTICS_MAX_NESTING_DEPTH: number = 16;

  @Transform(toInt)
  @IsInt()
  @Min(16)
  @Max(1_000_000)
  ANALYTICS_MAX_STRING_LENGTH: number = 8192;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  ANALYTICS_WORKER_CONCURRENCY: number = 4;

  /** CPU priority (nice) the worker process lowers itself to: on a shared machine the api answers first. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(19)
  ANALYTICS_WORKER_NICE: number = 0;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  ANALYTICS_JOB_ATTEMPTS: number = 12;

  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(3600 * 1000)
  ANALYTICS_JOB_BACKOFF_MS: number = 1000;

  @Transform(toInt)
  @IsInt()
  @Min(500)
  @Max(3600 * 1000)
  ANALYTICS_WORKER_LOCK_MS: number = 30000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(366)
  ANALYTICS_PARTITION_DAYS_AHEAD: number = 7;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  ANALYTICS_REPORT_TIMEOUT_MS: number = 10_000;

  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(1_000_000)
  ANALYTICS_MAX_TIMESERIES_POINTS: number = 10_000;

  // Report bounds, checked before any query (docs/architecture.md, Rollups and reporting).
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3660)
  ANALYTICS_REPORT_MAX_RANGE_DAYS: number = 400;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3660)
  ANALYTICS_FUNNEL_MAX_RANGE_DAYS: number = 90;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(50_000_000)
  ANALYTICS_REPORT_MAX_EVENTS: number = 500_000;

  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(50_000_000)
  ANALYTICS_FUNNEL_MAX_UNIT_EVENTS: number = 100_000;

  // At most 8 of the api's 12 pooled connections ever serve reports: ingestion keeps the rest.
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(8)
  ANALYTICS_REPORT_CONCURRENCY: number = 4;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(8)
  ANALYTICS_REPORT_TENANT_CONCURRENCY: number = 2;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  ANALYTICS_RATE_LIMIT_RPS: number = 1000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  ANALYTICS_RATE_LIMIT_EPS: number = 50000;

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1000)
  ANALYTICS_KEY_CACHE_MS: number = 1000;

  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'must be at least 32 characters (an HS256 secret)' })
  ANALYTICS_JWT_SECRET?: string;

  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'must be an http(s) URL of a JWKS document' })
  ANALYTICS_JWT_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  ANALYTICS_JWT_ISSUER?: string;

  @IsOptional()
  @IsString()
  ANALYTICS_JWT_AUDIENCE?: string;

  /** Longest a JWT may live (exp − iat, and exp − now), in seconds. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(7 * 24 * 3600)
  ANALYTICS_JWT_MAX_LIFETIME_S: number = 3600;

  /** Failed authentications one client address may make per minute (per instance) before 429. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  ANALYTICS_AUTH_FAILURES_PER_MIN: number = 60;

  /** How long the api waits for a request's headers, and for the whole request (ms). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  ANALYTICS_HTTP_HEADERS_TIMEOUT_MS: number = 10_000;

  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  ANALYTICS_HTTP_REQUEST_TIMEOUT_MS: number = 30_000;

  /** How long an idle keep-alive connection stays open (ms). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  ANALYTICS_HTTP_KEEP_ALIVE_TIMEOUT_MS: number = 5_000;

  /** Per-tenant quotas on what accumulates: consent withdrawals, schemas, erasures in flight. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  ANALYTICS_CONSENT_MAX_SUBJECTS: number = 100_000;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  ANALYTICS_SCHEMA_MAX_COUNT: number = 100;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_048_576)
  ANALYTICS_SCHEMA_MAX_TOTAL_KB: number = 1024;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  ANALYTICS_ERASURE_MAX_PENDING: number = 20;

  /**
   * On SIGTERM, how long the api waits for the requests it has (bodies still arriving included) and
   * the worker for its active jobs, before closing its connections (ms).
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(600_000)
  ANALYTICS_SHUTDOWN_GRACE_MS: number = 10_000;

  /** WebSocket ingestion: a connection that sends no message for this long is closed (4001), ms. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  ANALYTICS_WS_IDLE_TIMEOUT_MS: number = 120_000;

  /** WebSocket ingestion: the server pings every connection this often; one that missed the last pong is dropped (ms). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(600_000)
  ANALYTICS_WS_PING_INTERVAL_MS: number = 25_000;

  /** WebSocket ingestion: messages of one connection read and not yet answered (they are handled in order); past it the socket is not read. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1024)
  ANALYTICS_WS_MAX_IN_FLIGHT: number = 32;

  /** Live stream (SSE): a comment line this often keeps proxies from closing a quiet stream (ms). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(600_000)
  ANALYTICS_LIVE_HEARTBEAT_MS: number = 15_000;

  /** Live stream: how long a stream token from POST /reports/live/token may open a stream (s). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86_400)
  ANALYTICS_LIVE_TOKEN_TTL_S: number = 300;

  /** Live stream: how much unsent output one client may hold before it is dropped (KB). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65_536)
  ANALYTICS_LIVE_MAX_BUFFER_KB: number = 512;

  /** Live stream: fold messages kept per tenant for Last-Event-ID resumes. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(1_000_000)
  ANALYTICS_LIVE_HISTORY: number = 2000;

  /** Prometheus metrics: the api serves GET /metrics on ANALYTICS_METRICS_PORT, the worker on ANALYTICS_WORKER_PORT. */
  @Transform(toBool)
  @IsBoolean()
  ANALYTICS_METRICS_ENABLED: boolean = true;

  @IsString()
  ANALYTICS_METRICS_HOST: string = '0.0.0.0';

  /** The api's metrics port, apart from the public one (0: any free port). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  ANALYTICS_METRICS_PORT: number = 9464;

  /** The worker's small HTTP port: /metrics and its liveness, readiness and startup probes (0: any free port). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  ANALYTICS_WORKER_PORT: number = 9465;

  /** A `tenant` label on the per-tenant ingestion counters: one series per tenant, so off unless asked for. */
  @Transform(toBool)
  @IsBoolean()
  ANALYTICS_METRICS_TENANT_LABELS: boolean = false;

  /** One JSON line per HTTP request (request id, tenant, route, status, duration). */
  @Transform(toBool)
  @IsBoolean()
  ANALYTICS_REQUEST_LOGS: boolean = true;

  /** json: one JSON object per line (pino); pretty: coloured lines for a terminal. */
  @IsIn(['json', 'pretty'])
  LOG_FORMAT: string = 'json';

  @IsIn(['fatal', 'error', 'warn', 'log', 'debug', 'verbose'])
  @MaxLength(16)
  LOG_LEVEL: string = 'log';
}

/** Thrown for a bad environment: its message is the one line printed before the process exits. */
export class ConfigError extends Error {}

export function parseEnvironment(env: Record<string, string | undefined>): Environment {
  const optional = [
    'ANALYTICS_AUTO_MIGRATE',
    'ANALYTICS_JWT_SECRET',
    'ANALYTICS_JWT_JWKS_URL',
    'ANALYTICS_JWT_ISSUER',
    'ANALYTICS_JWT_AUDIENCE',
    'CLICKHOUSE_CLUSTER',
  ];
  const known = Object.keys(new Environment()).concat(optional);
  const raw: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = plainToInstance(Environment, raw, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const constraints = e.constraints ?? {};
      // A value of the wrong type fails its bounds too; the type is the one thing to say then.
      const typeRule = ['isInt', 'isBoolean'].find((k) => k in constraints);
      const reasons = (typeRule ? [constraints[typeRule]] : Object.values(constraints)).map((m) =>
        m.replace(`${e.property} `, ''),
      );
      const shown = e.property.includes('SECRET') ? '(hidden)' : JSON.stringify(raw[e.property]);
      return `${e.property} ${reasons.join('; ')} (got ${shown})`;
    });
    throw new ConfigError(`Invalid configuration: ${lines.join('; ')}`);
  }
  if (
    (parsed.ANALYTICS_JWT_SECRET || parsed.ANALYTICS_JWT_JWKS_URL) &&
    !(parsed.ANALYTICS_JWT_ISSUER && parsed.ANALYTICS_JWT_AUDIENCE)
  ) {
    const missing = ['ANALYTICS_JWT_ISSUER', 'ANALYTICS_JWT_AUDIENCE'].filter((k) => !parsed[k as keyof Environment]);
    throw new ConfigError(
      `Invalid configuration: JWTs are accepted (ANALYTICS_JWT_SECRET or ANALYTICS_JWT_JWKS_URL is set), so ANALYTICS_JWT_ISSUER and ANALYTICS_JWT_AUDIENCE must be set too (missing: ${missing.join(', ')})`,
    );
  }
  return parsed;
}
