import { ConfigError, Environment, parseEnvironment } from './environment';

export interface RedisTarget {
  url: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
}

/**
 * The typed configuration every module injects. Its shape follows the product brief
 * (ingestion / reporting / privacy) plus what the processes need to run.
 */
export class AnalyticsConfig {
  readonly env!: 'development' | 'test' | 'production';
  readonly http!: {
    host: string;
    port: number;
    swaggerEnabled: boolean;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
  };
  readonly database!: {
    url: string;
    autoMigrate: boolean;
    /** The api's reads that serve requests (keys, tenant schemas, the ledger): their deadline, and how long a cached key row may serve while Postgres fails. */
    readTimeoutMs: number;
    staleKeyMaxMs: number;
  };
  readonly storage!: {
    backend: 'postgres' | 'clickhouse';
    clickhouse: { urls: string[]; database: string; cluster: string | null };
  };
  readonly redis!: RedisTarget & { prefix: string };
  readonly ingestion!: {
    maxBatchSize: number;
    maxPayloadSizeKb: number;
    clockSkewToleranceMs: number;
    dedupeWindowMs: number;
    seenFilterBits: number;
    batchLingerMs: number;
    maxQueueBacklog: number;
    maxNestingDepth: number;
    maxStringLength: number;
  };
  readonly otlp!: { maxPayloadSizeKb: number; keepContentTenants: string[] };
  readonly privacy!: { retentionDays: number; consentMaxSubjects: number; erasureMaxPending: number };
  readonly schemas!: { maxCount: number; maxTotalKb: number };
  readonly auth!: {
    rateLimitRps: number;
    rateLimitEps: number;
    keyCacheMs: number;
    failuresPerMin: number;
    jwt: { secret?: string; jwksUrl?: string; issuer?: string; audience?: string; maxLifetimeS: number };
  };
  readonly rollups!: {
    enabled: boolean;
    retentionDays: number;
    minuteRetentionDays: number;
    foldIntervalMs: number;
    foldBatch: number;
  };
  readonly reporting!: {
    defaultTimeoutMs: number;
    maxTimeseriesPoints: number;
    maxRangeDays: number;
    funnelMaxRangeDays: number;
    maxEvents: number;
    maxUnitEvents: number;
    concurrency: number;
    tenantConcurrency: number;
  };
  readonly worker!: {
    concurrency: number;
    nice: number;
    jobAttempts: number;
    jobBackoffMs: number;
    lockDurationMs: number;
    partitionDaysAhead: number;
  };
  /** On SIGTERM: how long requests in flight (api) and active jobs (worker) are waited for. */
  readonly shutdown!: { graceMs: number };
  /** WebSocket ingestion: idle timeout, keepalive ping interval, messages handled at once per connection. */
  readonly ws!: { idleTimeoutMs: number; pingIntervalMs: number; maxInFlight: number };
  /** The live stream of folded buckets (SSE). */
  readonly live!: { heartbeatMs: number; tokenTtlS: number; maxBufferKb: number; history: number };
  readonly telemetry!: {
    metricsEnabled: boolean;
    metricsHost: string;
    /** The api's metrics port and the worker's probe and metrics port. */
    metricsPort: number;
    workerPort: number;
    tenantLabels: boolean;
    requestLogs: boolean;
  };
  readonly debug!: boolean;
  readonly logLevel!: string;
  readonly logFormat!: 'json' | 'pretty';

  static fromEnvironment(env: Record<string, string | undefined> = process.env): AnalyticsConfig {
    return AnalyticsConfig.fromParsed(parseEnvironment(env));
  }

  private static fromParsed(e: Environment): AnalyticsConfig {
    const nodeEnv = e.NODE_ENV as AnalyticsConfig['env'];
    return Object.assign(new AnalyticsConfig(), {
      env: nodeEnv,
      http: {
        host: e.HOST,
        port: e.PORT,
        swaggerEnabled: e.ANALYTICS_SWAGGER_ENABLED,
        headersTimeoutMs: e.ANALYTICS_HTTP_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: e.ANALYTICS_HTTP_REQUEST_TIMEOUT_MS,
        keepAliveTimeoutMs: e.ANALYTICS_HTTP_KEEP_ALIVE_TIMEOUT_MS,
      },
      database: {
        url: e.DATABASE_URL,
        autoMigrate: e.ANALYTICS_AUTO_MIGRATE ?? nodeEnv !== 'production',
        readTimeoutMs: e.ANALYTICS_DB_READ_TIMEOUT_MS,
        staleKeyMaxMs: e.ANALYTICS_STALE_KEY_MAX_MS,
      },
      storage: {
        backend: e.ANALYTICS_STORAGE as 'postgres' | 'clickhouse',
        clickhouse: {
          urls: clickHouseUrls(e),
          database: e.CLICKHOUSE_DATABASE,
          cluster: e.CLICKHOUSE_CLUSTER ?? null,
        },
      },
      redis: { ...parseRedisUrl(e.REDIS_URL), prefix: e.ANALYTICS_REDIS_PREFIX },
      ingestion: {
        maxBatchSize: e.ANALYTICS_MAX_BATCH_SIZE,
        maxPayloadSizeKb: e.ANALYTICS_MAX_PAYLOAD_KB,
        clockSkewToleranceMs: e.ANALYTICS_CLOCK_SKEW_TOLERANCE_MS,
        dedupeWindowMs: e.ANALYTICS_DEDUPE_WINDOW_MS,
        seenFilterBits: e.ANALYTICS_SEEN_FILTER_BITS,
        batchLingerMs: e.ANALYTICS_BATCH_LINGER_MS,
        maxQueueBacklog: e.ANALYTICS_MAX_QUEUE_BACKLOG,
        maxNestingDepth: e.ANALYTICS_MAX_NESTING_DEPTH,
        maxStringLength: e.ANALYTICS_MAX_STRING_LENGTH,
      },
      otlp: {
        maxPayloadSizeKb: e.ANALYTICS_OTLP_MAX_PAYLOAD_KB,
        keepContentTenants: e.ANALYTICS_OTLP_KEEP_CONTENT_TENANTS.split(',')
          .map((t) => t.trim().toLowerCase())
          .filter(Boolean),
      },
      privacy: {
        retentionDays: e.ANALYTICS_RETENTION_DAYS,
        consentMaxSubjects: e.ANALYTICS_CONSENT_MAX_SUBJECTS,
        erasureMaxPending: e.ANALYTICS_ERASURE_MAX_PENDING,
      },
      schemas: { maxCount: e.ANALYTICS_SCHEMA_MAX_COUNT, maxTotalKb: e.ANALYTICS_SCHEMA_MAX_TOTAL_KB },
      auth: {
        rateLimitRps: e.ANALYTICS_RATE_LIMIT_RPS,
        rateLimitEps: e.ANALYTICS_RATE_LIMIT_EPS,
        keyCacheMs: e.ANALYTICS_KEY_CACHE_MS,
        failuresPerMin: e.ANALYTICS_AUTH_FAILURES_PER_MIN,
        jwt: {
          secret: e.ANALYTICS_JWT_SECRET,
          jwksUrl: e.ANALYTICS_JWT_JWKS_URL,
          issuer: e.ANALYTICS_JWT_ISSUER,
          audience: e.ANALYTICS_JWT_AUDIENCE,
          maxLifetimeS: e.ANALYTICS_JWT_MAX_LIFETIME_S,
        },
      },
      rollups: {
        enabled: e.ANALYTICS_ENABLE_ROLLUPS,
        retentionDays: e.ANALYTICS_ROLLUP_RETENTION_DAYS,
        minuteRetentionDays: e.ANALYTICS_MINUTE_ROLLUP_RETENTION_DAYS,
        foldIntervalMs: e.ANALYTICS_ROLLUP_FOLD_INTERVAL_MS,
        foldBatch: e.ANALYTICS_ROLLUP_FOLD_BATCH,
      },
      reporting: {
        defaultTimeoutMs: e.ANALYTICS_REPORT_TIMEOUT_MS,
        maxTimeseriesPoints: e.ANALYTICS_MAX_TIMESERIES_POINTS,
        maxRangeDays: e.ANALYTICS_REPORT_MAX_RANGE_DAYS,
        funnelMaxRangeDays: e.ANALYTICS_FUNNEL_MAX_RANGE_DAYS,
        maxEvents: e.ANALYTICS_REPORT_MAX_EVENTS,
        maxUnitEvents: e.ANALYTICS_FUNNEL_MAX_UNIT_EVENTS,
        concurrency: e.ANALYTICS_REPORT_CONCURRENCY,
        tenantConcurrency: e.ANALYTICS_REPORT_TENANT_CONCURRENCY,
      },
      worker: {
        concurrency: e.ANALYTICS_WORKER_CONCURRENCY,
        nice: e.ANALYTICS_WORKER_NICE,
        jobAttempts: e.ANALYTICS_JOB_ATTEMPTS,
        jobBackoffMs: e.ANALYTICS_JOB_BACKOFF_MS,
        lockDurationMs: e.ANALYTICS_WORKER_LOCK_MS,
        partitionDaysAhead: e.ANALYTICS_PARTITION_DAYS_AHEAD,
      },
      shutdown: { graceMs: e.ANALYTICS_SHUTDOWN_GRACE_MS },
      ws: {
        idleTimeoutMs: e.ANALYTICS_WS_IDLE_TIMEOUT_MS,
        pingIntervalMs: e.ANALYTICS_WS_PING_INTERVAL_MS,
        maxInFlight: e.ANALYTICS_WS_MAX_IN_FLIGHT,
      },
      live: {
        heartbeatMs: e.ANALYTICS_LIVE_HEARTBEAT_MS,
        tokenTtlS: e.ANALYTICS_LIVE_TOKEN_TTL_S,
        maxBufferKb: e.ANALYTICS_LIVE_MAX_BUFFER_KB,
        history: e.ANALYTICS_LIVE_HISTORY,
      },
      telemetry: {
        metricsEnabled: e.ANALYTICS_METRICS_ENABLED,
        metricsHost: e.ANALYTICS_METRICS_HOST,
        metricsPort: e.ANALYTICS_METRICS_PORT,
        workerPort: e.ANALYTICS_WORKER_PORT,
        tenantLabels: e.ANALYTICS_METRICS_TENANT_LABELS,
        requestLogs: e.ANALYTICS_REQUEST_LOGS,
      },
      debug: e.ANALYTICS_DEBUG_MODE,
      logLevel: e.ANALYTICS_DEBUG_MODE ? 'debug' : e.LOG_LEVEL,
      logFormat: e.LOG_FORMAT as 'json' | 'pretty',
    });
  }

  /** A safe rendering of a connection URL for messages: host and port, never credentials. */
  static describeUrl(url: string): string {
    try {
      const u = new URL(url);
      return `${u.hostname}:${u.port || (u.protocol.startsWith('redis') ? '6379' : '5432')}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
    } catch {
      return '(unparseable URL)';
    }
  }
}

function parseRedisUrl(url: string): RedisTarget {
  const u = new URL(url);
  const db = u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    url,
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: u.protocol === 'rediss:',
  };
}

/** One URL, or one per shard of CLICKHOUSE_CLUSTER. */
function clickHouseUrls(e: Environment): string[] {
  const urls = e.CLICKHOUSE_URL.split(',');
  if (urls.length > 1 && !e.CLICKHOUSE_CLUSTER)
    throw new ConfigError(
      `Invalid configuration: CLICKHOUSE_URL lists ${urls.length} servers; set CLICKHOUSE_CLUSTER to the remote_servers cluster they form, or give one URL`,
    );
  return urls;
}
