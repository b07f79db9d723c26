import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { RedisClient } from '../../common/redis.provider';
import { AnalyticsConfig } from '../config/analytics-config';
import { MetricsServer, Probe } from './metrics-server';
import { Telemetry } from './telemetry.service';

const PROBE_TIMEOUT_MS = 1500;

/**
 * The role's own port: the api's /metrics apart from its public port (ANALYTICS_METRICS_PORT), the
 * worker's /metrics and probes (ANALYTICS_WORKER_PORT). Opened when the application starts, closed
 * last, so that a role draining on shutdown can still be scraped.
 */
@Injectable()
export class MetricsPort implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: MetricsServer | null = null;

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
    @InjectDataSource() private readonly db: DataSource,
    private readonly redis: RedisClient,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const t = this.config.telemetry;
    const worker = this.telemetry.role === 'worker';
    // The worker's probes are served even with metrics off: Kubernetes needs them.
    if (!t.metricsEnabled && !worker) return;
    this.server = new MetricsServer(this.telemetry, worker ? this.probes() : {}, t.metricsEnabled);
    await this.server.listen(worker ? t.workerPort : t.metricsPort, t.metricsHost);
  }

  /** The port it listens on (tests ask for port 0); null when closed. */
  get port(): number | null {
    return this.server?.port ?? null;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }

  private probes(): Record<string, Probe> {
    const ready: Probe = async () => {
      await within(this.db.query('SELECT 1'), 'postgres');
      await within(this.redis.ping(), 'redis');
      return { checks: { postgres: 'up', redis: 'up' } };
    };
    return {
      '/api/v1/analytics/health/live': () => Promise.resolve({}),
      '/api/v1/analytics/health/ready': ready,
      '/api/v1/analytics/health/startup': async () => {
        if (!this.telemetry.started) throw new Error('the worker is still starting');
        return ready();
      },
    };
  }
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not answer within ${PROBE_TIMEOUT_MS} ms`)),
        PROBE_TIMEOUT_MS,
      );
    }),
  ]).catch((err: Error) => {
    throw new Error(err.message.startsWith(what) ? err.message : `${what}: ${err.message}`);
  });
}
