import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '../contracts/stored-event';
import type { SubjectMatch } from '../privacy/subject-keys';
import type { FoldableEvent, RollupDelta } from '../rollups/rollup-fold';
import type { FunnelEventRow, ReportEventRow } from './events.repository';

/** A rollup row of one bucket as a report reads it (a bucket may come as several rows: their cells add up). */
export interface RollupCellRow {
  bucket: Date;
  count: number;
  num: number;
  sum: number;
  min: number | null;
  max: number | null;
  /** The compact binary form of a DDSketch, or null. */
  sketch: Buffer | null;
}

export interface ReportQuery {
  tenantId: string;
  eventNames: string[] | null;
  siteId: string | null;
  source: string | null;
  from: Date;
  to: Date;
  limit: number;
}

/** A conversation's events of some types in [from, to), by their gen_ai.conversation.id. */
export interface ConversationQuery {
  tenantId: string;
  conversationId: string;
  eventNames: string[];
  from: Date;
  to: Date;
  limit: number;
}

export interface ConversationEventRow {
  event_name: string;
  occurred_at: Date;
  attributes: Record<string, unknown>;
}

export interface FunnelQuery {
  tenantId: string;
  unit: 'session_id' | 'user_id' | { attribute: string };
  eventNames: string[] | null;
  fromUs: number;
  toUs: number;
  attributes: string[];
  siteId: boolean;
  source: boolean;
  limit: number;
}

export interface RollupQuery {
  tenantId: string;
  metric: string;
  level: string;
  siteId: string;
  source: string;
  from: Date;
  to: Date;
}

/**
 * Identifies what a fold writes to the rollups: the same id on every attempt of the same work, so a
 * backend that cannot write in the fold's transaction (ClickHouse) writes it once.
 */
export interface FoldBlock {
  id: string;
  /** Whether an earlier attempt of this work may have written some of it already. */
  retry: boolean;
}

/** The fold of one round, given the round's Postgres transaction and its events. */
export type FoldWork = (tx: EntityManager, events: FoldableEvent[], block: FoldBlock) => Promise<void>;

/**
 * Where events and rollups live, and the reports over them: Postgres (`ANALYTICS_STORAGE=postgres`,
 * the default) or ClickHouse. Storage, rollups, reporting and privacy use only this; tenants, keys,
 * schemas, the dedupe ledger, consent and erasure requests stay in Postgres either way.
 */
export abstract class EventStore {
  abstract readonly backend: 'postgres' | 'clickhouse';

  /**
   * Records the events in the dedupe ledger and stores only those it had not seen, in one
   * Postgres statement; answers how many it stored. With `foldLater` (or on a backend that ships
   * stored events on), they are also left for the next fold round.
   */
  abstract insertFresh(events: StoredEvent[], opts: { foldLater: boolean }): Promise<number>;

  /**
   * One fold round: takes up to `limit` stored events not folded yet and runs `fold` on them in a
   * Postgres transaction that removes them when it commits. Answers how many, or null when another
   * process's round (or an erasure) holds the fold lock.
   */
  abstract foldRound(limit: number, fold: FoldWork): Promise<number | null>;

  /** Events stored but not yet folded (or not yet shipped to the event store). */
  abstract pendingCount(): Promise<number>;

  /** Adds deltas to their rollup rows, inside the fold's transaction; `block` names the fold. */
  abstract writeRollups(tx: EntityManager, deltas: RollupDelta[], block: FoldBlock): Promise<void>;

  /** Rollup cells of one metric at one level and dimension, in [from, to), ordered by bucket. */
  abstract readRollups(q: RollupQuery, timeoutMs: number): Promise<RollupCellRow[]>;

  /** The fields reports need of one tenant's events of some types in [from, to), at most `limit` rows. */
  abstract forReport(q: ReportQuery, timeoutMs: number): Promise<ReportEventRow[]>;

  /** A conversation's events in time order, at most `limit` rows (the conversation view). */
  abstract forConversation(q: ConversationQuery, timeoutMs: number): Promise<ConversationEventRow[]>;

  /** Funnel input in (unit, time, id) order; see EventsRepository.forFunnel for the unit's rules. */
  abstract forFunnel(q: FunnelQuery, timeoutMs: number): Promise<FunnelEventRow[]>;

  /** One page of a subject's stored events, oldest first, after the (occurred_at, event_id) cursor. */
  abstract subjectPage(
    tenantId: string,
    type: 'user' | 'session',
    storedIds: string[],
    limit: number,
    after?: { at: string; id: string },
  ): Promise<Record<string, unknown>[]>;

  /**
   * Deletes every stored event of a subject (inside the erasure's Postgres transaction, which holds
   * the fold lock); answers what the rollups read of each.
   */
  abstract deleteSubject(tx: EntityManager, subject: SubjectMatch): Promise<FoldableEvent[]>;

  /** Daily partitions (UTC day, 'YYYY-MM-DD') that exist now. */
  abstract listPartitionDays(): Promise<string[]>;
  abstract ensurePartition(day: string): Promise<void>;
  abstract dropPartition(day: string): Promise<void>;

  /** Deletes a tenant's events and ledger entries older than `cutoff`. */
  abstract deleteOlderThan(tenantId: string, cutoff: Date): Promise<{ rows: number; ledger: number }>;

  /** Deletes rollup rows of some levels older than `cutoff` (and, on Postgres, their distinct members). */
  abstract deleteRollupsOlderThan(levels: string[], cutoff: Date): Promise<{ rows: number; members: number }>;
}
