import { CostRepository } from '../costs/cost.repository';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { TenantsRepository } from '../auth/tenants.repository';
import { AnalyticsConfig } from '../config/analytics-config';
import { RollupRepository } from '../rollups/rollup.repository';
import { QuarantineRepository } from '../schema-registry/quarantine.repository';
import { EventStore } from './event-store';
import { EventsRepository } from './events.repository';
import { StorageService } from './storage.service';

const DAY = 86_400_000;

export interface RetentionOutcome {
  dropped_partitions: string[];
  deleted_rows: number;
  deleted_ledger_entries: number;
  deleted_rollup_rows: number;
  deleted_rollup_members: number;
  deleted_quarantined: number;
}

/**
 * Applies retention: drops whole daily partitions past the longest retention of any tenant (cheap,
 * no row scan), then deletes the older rows of tenants whose retention is shorter, and the ledger
 * entries of everything removed. Distinct-rate members (keyed units of events) go with the
 * events: once a bucket is past its tenant's retention. Rollup rows keep their own longer
 * retention (minute rows less). Quarantined events go by their own time, as stored ones do.
 * Consent records expire by themselves in Redis.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger(RetentionService.name);

  constructor(
    private readonly events: EventsRepository,
    private readonly store: EventStore,
    private readonly tenants: TenantsRepository,
    private readonly storage: StorageService,
    private readonly rollups: RollupRepository,
    private readonly quarantine: QuarantineRepository,
    private readonly costs: CostRepository,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  async apply(now = new Date()): Promise<RetentionOutcome> {
    const fallback = this.config.privacy.retentionDays;
    const tenants = (await this.tenants.retentionByTenant()).map((t) => ({
      id: t.id,
      days: t.retention_days ?? fallback,
    }));
    const longest = Math.max(fallback, ...tenants.map((t) => t.days));
    const horizon = now.getTime() - longest * DAY;

    const dropped: string[] = [];
    for (const day of await this.store.listPartitionDays()) {
      if (Date.parse(`${day}T00:00:00Z`) + DAY <= horizon) {
        await this.store.dropPartition(day);
        dropped.push(day);
      }
    }
    if (dropped.length) this.storage.forgetPartitions();
    let rows = 0;
    let ledger = await this.events.deleteLedgerOlderThan(new Date(horizon));
    for (const t of tenants.filter((x) => x.days < longest)) {
      const removed = await this.store.deleteOlderThan(t.id, new Date(now.getTime() - t.days * DAY));
      rows += removed.rows;
      ledger += removed.ledger;
    }
    const cutoffs = tenants.map((t) => ({ tenantId: t.id, cutoff: new Date(now.getTime() - t.days * DAY) }));
    // Quarantined events go as stored ones do, and a member (a keyed unit of the events of its
    // bucket) when they do, not with the rollups.
    const quarantined = await this.quarantine.deleteOlderThan(cutoffs);
    const expiredMembers = await this.rollups.deleteExpiredMembers(cutoffs);
    // Rollup rows hold no subject: their own, longer retention; minute rows go sooner.
    const { rollups } = this.config;
    const minutes = await this.store.deleteRollupsOlderThan(
      ['m'],
      new Date(now.getTime() - rollups.minuteRetentionDays * DAY),
    );
    const coarse = await this.store.deleteRollupsOlderThan(
      ['h', 'd'],
      new Date(now.getTime() - rollups.retentionDays * DAY),
    );
    // Usage lines hold no subject either, and go with the hour and day rollups they are priced beside.
    const usageLines = await this.costs.deleteOlderThan(new Date(now.getTime() - rollups.retentionDays * DAY));
    const outcome = {
      dropped_partitions: dropped.sort(),
      deleted_rows: rows,
      deleted_ledger_entries: ledger,
      deleted_rollup_rows: minutes.rows + coarse.rows,
      deleted_rollup_members: expiredMembers + minutes.members + coarse.members,
      deleted_quarantined: quarantined,
    };
    this.logger.log(
      `Retention applied: ${dropped.length} partition(s) dropped, ${rows} row(s) and ${ledger} ledger entries deleted, ${usageLines} usage line(s) expired`,
    );
    return outcome;
  }
}
