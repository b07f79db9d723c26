import { Logger as NestLogger } from '@nestjs/common';
import { Logger as TypeOrmLogger } from 'typeorm';
import { recordQuery } from '../modules/observability/query-capture';

/**
 * TypeORM's own loggers print a failing query with its parameters, which are event payloads.
 * This one reports what failed and why, never the values.
 */
export class SafeTypeOrmLogger implements TypeOrmLogger {
  private readonly logger = new NestLogger('Postgres');

  constructor(private readonly debug: boolean) {}

  logQuery(query: string, parameters?: unknown[]): void {
    if (!this.debug) return;
    this.logger.debug(summarize(query));
    recordQuery(query, parameters); // for a report's meta.debug, when one is being answered
  }
  logQueryError(error: string | Error, query: string): void {
    this.logger.warn(`Query failed (${summarize(query)}): ${typeof error === 'string' ? error : error.message}`);
  }
  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`Slow query (${time} ms): ${summarize(query)}`);
  }
  logSchemaBuild(message: string): void {
    if (this.debug) this.logger.debug(message);
  }
  logMigration(message: string): void {
    this.logger.log(message);
  }
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else if (this.debug) this.logger.debug(String(message));
  }
}

/** The statement's first words, enough to tell which query it was. */
function summarize(query: string): string {
  return query.replace(/\s+/g, ' ').trim().slice(0, 80);
}
