import { Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '../../common/problem';
import { AnalyticsConfig } from '../config/analytics-config';

/**
 * How many reports run at once on this instance, in all and per tenant. A report beyond either
 * limit is refused at once (429), never queued: each running report holds one pooled connection,
 * and the limits keep the rest of the pool for ingestion.
 */
@Injectable()
export class ReportSlots {
  private running = 0;
  private readonly byTenant = new Map<string, number>();

  constructor(@Inject(AnalyticsConfig) private readonly config: AnalyticsConfig) {}

  /** Runs `work` in a slot of the tenant's, or throws 429 naming the limit that is full. */
  async run<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    const { concurrency, tenantConcurrency } = this.config.reporting;
    const mine = this.byTenant.get(tenantId) ?? 0;
    if (mine >= tenantConcurrency) {
      throw busy(
        `This tenant already has ${mine} reports running, the limit per tenant (ANALYTICS_REPORT_TENANT_CONCURRENCY is ${tenantConcurrency}). Retry when one has answered.`,
      );
    }
    if (this.running >= concurrency) {
      throw busy(
        `This instance already runs ${this.running} reports, its limit (ANALYTICS_REPORT_CONCURRENCY is ${concurrency}). Retry in a moment.`,
      );
    }
    this.running++;
    this.byTenant.set(tenantId, mine + 1);
    try {
      return await work();
    } finally {
      this.running--;
      const left = (this.byTenant.get(tenantId) ?? 1) - 1;
      if (left > 0) this.byTenant.set(tenantId, left);
      else this.byTenant.delete(tenantId);
    }
  }
}

const busy = (detail: string) =>
  new ProblemException(429, 'reports-busy', 'Too many reports running', detail, {}, { 'retry-after': '1' });
