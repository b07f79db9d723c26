import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { StoredEvent } from '../contracts/stored-event';
import { SubjectMatch } from '../privacy/subject-keys';
import { FoldableEvent, RollupDelta } from '../rollups/rollup-fold';
import { RollupRepository } from '../rollups/rollup.repository';
import {
  ConversationEventRow,
  ConversationQuery,
  EventStore,
  FoldWork,
  FunnelQuery,
  ReportQuery,
  RollupCellRow,
  RollupQuery,
} from './event-store';
import { EventsRepository, FunnelEventRow, ReportEventRow } from './events.repository';

/** Everything in Postgres: the raw table's daily partitions, the rollup tables, one transaction per fold. */
@Injectable()
export class PostgresEventStore extends EventStore {
  readonly backend = 'postgres' as const;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly events: EventsRepository,
    private readonly rollups: RollupRepository,
  ) {
    super();
  }

  insertFresh(events: StoredEvent[], opts: { foldLater: boolean }): Promise<number> {
    return this.events.insertFresh(events, opts);
  }

  foldRound(limit: number, fold: FoldWork): Promise<number | null> {
    return this.db.transaction(async (tx) => {
      if (!(await this.rollups.tryLockFolds(tx))) return null; // another process is folding (or an erasure holds the lock)
      const events = await this.rollups.takePending(tx, limit);
      await fold(tx, events, { id: 'postgres', retry: false });
      return events.length;
    });
  }

  pendingCount(): Promise<number> {
    return this.rollups.pendingCount();
  }

  writeRollups(tx: EntityManager, deltas: RollupDelta[]): Promise<void> {
    return this.rollups.upsert(tx, deltas);
  }

  async readRollups(q: RollupQuery, timeoutMs: number): Promise<RollupCellRow[]> {
    const rows = await this.rollups.read(q, timeoutMs);
    return rows.map((r) => ({
      bucket: r.bucket,
      count: Number(r.count),
      num: Number(r.num),
      sum: r.sum,
      min: r.min,
      max: r.max,
      sketch: (r.sketch as Buffer | null) ?? null,
    }));
  }

  forReport(q: ReportQuery, timeoutMs: number): Promise<ReportEventRow[]> {
    return this.events.forReport(q, timeoutMs);
  }

  forFunnel(q: FunnelQuery, timeoutMs: number): Promise<FunnelEventRow[]> {
    return this.events.forFunnel(q, timeoutMs);
  }

  forConversation(q: ConversationQuery, timeoutMs: number): Promise<ConversationEventRow[]> {
    return this.events.forConversation(q, timeoutMs);
  }

  subjectPage(
    tenantId: string,
    type: 'user' | 'session',
    storedIds: string[],
    limit: number,
    after?: { at: string; id: string },
  ): Promise<Record<string, unknown>[]> {
    return this.events.subjectPage(tenantId, type, storedIds, limit, after);
  }

  deleteSubject(tx: EntityManager, subject: SubjectMatch): Promise<FoldableEvent[]> {
    return this.events.deleteSubject(tx, subject);
  }

  listPartitionDays(): Promise<string[]> {
    return this.events.listPartitionDays();
  }

  ensurePartition(day: string): Promise<void> {
    return this.events.ensurePartition(day);
  }

  dropPartition(day: string): Promise<void> {
    return this.events.dropPartition(day);
  }

  async deleteOlderThan(tenantId: string, cutoff: Date): Promise<{ rows: number; ledger: number }> {
    return this.events.deleteOlderThan(tenantId, cutoff);
  }

  deleteRollupsOlderThan(levels: string[], cutoff: Date): Promise<{ rows: number; members: number }> {
    return this.rollups.deleteOlderThan(levels, cutoff);
  }
}
