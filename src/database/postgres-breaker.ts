import { Inject, Injectable, Logger } from '@nestjs/common';
import CircuitBreaker from 'opossum';
import { AnalyticsConfig } from '../modules/config/analytics-config';

/** Postgres could not serve a read in time, or the breaker is open: answer 503, retry after `retryAfterS`. */
export class DatabaseUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

const RESET_MS = 2000;

/**
 * The api's reads that serve requests (key rows, tenant schemas, the dedupe ledger) go through one
 * circuit breaker: each read has ANALYTICS_DB_READ_TIMEOUT_MS, and once half of the recent reads
 * failed the breaker opens and reads fail at once for RESET_MS, then one read tries Postgres again.
 * So while Postgres hangs or restarts, requests are answered from cache or with a fast 503, never
 * by waiting out a connection timeout each.
 */
@Injectable()
export class PostgresBreaker {
  private readonly logger = new Logger(PostgresBreaker.name);
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;

  constructor(@Inject(AnalyticsConfig) config: AnalyticsConfig) {
    this.breaker = new CircuitBreaker((work: () => Promise<unknown>) => work(), {
      timeout: config.database.readTimeoutMs,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
      rollingCountTimeout: 10_000,
      resetTimeout: RESET_MS,
    });
    this.breaker.on('open', () => this.logger.warn(`Postgres reads failing: breaker open for ${RESET_MS} ms`));
    this.breaker.on('close', () => this.logger.log('Postgres reads succeed again: breaker closed'));
  }

  /** Runs a read under the deadline and the breaker; rejects with DatabaseUnavailable when it cannot. */
  async read<T>(work: () => Promise<T>): Promise<T> {
    try {
      return (await this.breaker.fire(work)) as T;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why =
        code === 'EOPENBREAKER'
          ? 'recent reads failed'
          : code === 'ETIMEDOUT'
            ? 'the read timed out'
            : (err as Error).message;
      throw new DatabaseUnavailable(`Postgres unavailable: ${why}`, Math.ceil(RESET_MS / 1000));
    }
  }

  get isOpen(): boolean {
    return this.breaker.opened;
  }

  onModuleDestroy(): void {
    this.breaker.shutdown();
  }
}
