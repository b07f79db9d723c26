import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { TenantsRepository } from '../auth/tenants.repository';
import { AnalyticsConfig } from '../config/analytics-config';
import { memberKey, SubjectMatch } from '../privacy/subject-keys';
import {
  countMembers,
  FoldableEvent,
  foldEvents,
  inKeyOrder,
  inLockOrder,
  KeyedMembership,
  Membership,
  RollupDelta,
} from './rollup-fold';
import { EventStore, FoldBlock } from '../storage/event-store';
import { RollupRepository } from './rollup.repository';
import { CostRepository } from '../costs/cost.repository';
import { usageLines } from '../costs/usage-lines';

/**
 * Folds stored events into the rollups inside the caller's transaction (the rollup folder's, which
 * also removes them from the pending table): counts, sums, extremes and sketches added to their
 * rows, distinct units counted only when new to their bucket. Units are recorded keyed with their
 * tenant's secret, never as sent.
 */
@Injectable()
export class RollupService {
  constructor(
    private readonly repo: RollupRepository,
    private readonly store: EventStore,
    private readonly tenants: TenantsRepository,
    private readonly costs: CostRepository,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  get enabled(): boolean {
    return this.config.rollups.enabled;
  }

  /** `block` names this fold's writes, the same on every attempt of it (see EventStore.writeRollups). Returns what it added to each row (for the live stream). */
  async fold(tx: EntityManager, events: FoldableEvent[], block: FoldBlock): Promise<RollupDelta[]> {
    if (!this.enabled || events.length === 0) return [];
    const { deltas, members } = foldEvents(events);
    countMembers(deltas, await this.repo.addMembers(tx, await this.keyed(tx, inLockOrder(members))));
    const rows = inKeyOrder(deltas);
    await this.store.writeRollups(tx, rows, block);
    // What the events used, priced under the book valid at each event's time (docs/architecture.md, *Cost*).
    await this.costs.record(tx, events.flatMap(usageLines));
    return rows;
  }

  /**
   * An erasure's part, in its transaction, before the subject's events are deleted: waits for the
   * fold running now and keeps others out, folds the subject's events still pending (so the rollups
   * count them as they count its events folded before), then removes every member that the
   * subject's events (`stored`: all of them, pending ones included) record. Returns the members removed.
   */
  async forgetSubject(
    tx: EntityManager,
    subject: SubjectMatch,
    stored: FoldableEvent[],
    block: FoldBlock,
  ): Promise<number> {
    await this.repo.lockFolds(tx);
    await this.fold(tx, await this.repo.takePendingOfSubject(tx, subject), block);
    const { members } = foldEvents(stored);
    return this.repo.deleteMembers(tx, await this.keyed(tx, inLockOrder(members)));
  }

  /** The members with their units keyed under their tenants' secrets, read in the fold's transaction. */
  private async keyed(tx: EntityManager, members: Membership[]): Promise<KeyedMembership[]> {
    if (!members.length) return [];
    const secrets = await this.tenants.pseudonymSecrets([...new Set(members.map((m) => m.tenant_id))], tx);
    const keys = new Map<string, Buffer>(); // a unit recurs in 12 rows per metric: keyed once
    const out: KeyedMembership[] = [];
    for (const { unit, ...m } of members) {
      const secret = secrets.get(m.tenant_id);
      if (!secret) continue; // the tenant is gone, with everything of it
      const k = `${m.tenant_id}|${unit}`;
      let unit_key = keys.get(k);
      if (!unit_key) keys.set(k, (unit_key = memberKey(secret, unit)));
      out.push({ ...m, unit_key });
    }
    return out;
  }
}
