import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { StoredEvent } from '../../app/queues';
import { AnalyticsConfig } from '../config/analytics-config';
import { Membership, RollupDelta, foldEvents, rollupKey } from './rollup-fold';
import { RollupRepository } from './rollup.repository';

/**
 * Folds freshly stored events into the rollups inside the transaction that stored them: a
 * retried job stores nothing and so folds nothing, and a duplicate is never folded twice.
 */
@Injectable()
export class RollupService {
  constructor(private readonly repo: RollupRepository, @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig) {}

  get enabled(): boolean {
    return this.config.rollups.enabled;
  }

  async fold(tx: EntityManager, fresh: StoredEvent[]): Promise<void> {
    if (!this.enabled || fresh.length === 0) return;
    const { deltas, members } = foldEvents(fresh);
    const byKey = new Map(deltas.map((d) => [rollupKey(d), d]));
    for (const m of await this.repo.addMembers(tx, inLockOrder(members))) {
      const k = rollupKey(m);
      let d = byKey.get(k);
      if (!d) byKey.set(k, (d = { tenant_id: m.tenant_id, metric: m.metric, level: m.level, bucket: m.bucket, site_id: m.site_id, source: m.source, count: 0, num: 0, sum: 0, min: null, max: null, sketch: null }));
      if (m.side === 'd') d.count++;
      else d.num++;
    }
    const all: RollupDelta[] = [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, d]) => d);
    await this.repo.upsert(tx, all);
  }
}

/**
 * Members without repeats, sorted by key. Concurrent folds that share members (the same search or
 * session in neighbouring jobs) then take their row locks in one order and never deadlock; the
 * rollup rows that follow are sorted the same way.
 */
export function inLockOrder(members: Membership[]): Membership[] {
  const byKey = new Map<string, Membership>();
  for (const m of members) byKey.set(`${rollupKey(m)}|${m.side}|${m.unit}`, m);
  return [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, m]) => m);
}
