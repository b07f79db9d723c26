import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AnalyticsConfig } from '../config/analytics-config';
import { countMembers, FoldableEvent, foldEvents, inKeyOrder, inLockOrder } from './rollup-fold';
import { RollupRepository } from './rollup.repository';

/**
 * Folds stored events into the rollups inside the caller's transaction (the rollup folder's, which
 * also removes them from the pending table): counts, sums, extremes and sketches added to their
 * rows, distinct units counted only when new to their bucket.
 */
@Injectable()
export class RollupService {
  constructor(
    private readonly repo: RollupRepository,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  get enabled(): boolean {
    return this.config.rollups.enabled;
  }

  async fold(tx: EntityManager, events: FoldableEvent[]): Promise<void> {
    if (!this.enabled || events.length === 0) return;
    const { deltas, members } = foldEvents(events);
    countMembers(deltas, await this.repo.addMembers(tx, inLockOrder(members)));
    await this.repo.upsert(tx, inKeyOrder(deltas));
  }
}
