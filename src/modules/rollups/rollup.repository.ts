import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { inTimedTransaction } from '../../database/timed-query';
import { DataSource, EntityManager } from 'typeorm';
import { DDSketch } from './ddsketch';
import { FoldableEvent, KeyedMembership, RollupDelta, RollupKey, rollupKey } from './rollup-fold';
import { SubjectMatch, subjectMatchSql } from '../privacy/subject-keys';

/** pg advisory lock key: one fold at a time across every worker process (and erasures wait for it). */
const FOLD_LOCK = 7_413_002;

const KEY_COLUMNS = ['tenant_id', 'metric', 'level', 'bucket', 'site_id', 'source'] as const;

/** One array per column, for an INSERT … SELECT * FROM unnest(…) of many rows in one statement. */
function columns<T, K extends keyof T>(rows: T[], keys: readonly K[]): T[K][][] {
  return keys.map((k) => rows.map((r) => r[k]));
}

/** A stored rollup row, as read for a report. */
export interface RollupRow {
  bucket: Date;
  count: string;
  num: string;
  sum: number;
  min: number | null;
  max: number | null;
  sketch: unknown;
}

/** The only class with SQL for analytics_rollups, analytics_rollup_members and analytics_rollup_pending. */
@Injectable()
export class RollupRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Takes the fold lock for the caller's transaction if no one holds it; false if another fold runs. */
  async tryLockFolds(tx: EntityManager): Promise<boolean> {
    const [{ locked }] = await tx.query<{ locked: boolean }[]>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
      FOLD_LOCK,
    ]);
    return locked;
  }

  /** Waits for the fold running now, if any, and keeps every other out until the caller's transaction ends. */
  async lockFolds(tx: EntityManager): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [FOLD_LOCK]);
  }

  /**
   * Members whose events have expired: a tenant's members of buckets that ended at or before its
   * cutoff (now − its retention). No event of such a bucket is kept or accepted any more, so none
   * can need the member to be counted once.
   */
  async deleteExpiredMembers(cutoffs: { tenantId: string; cutoff: Date }[]): Promise<number> {
    if (!cutoffs.length) return 0;
    const [, n] = await this.db.query<[unknown[], number]>(
      `DELETE FROM analytics_rollup_members m
       USING unnest($1::uuid[], $2::timestamptz[]) AS c(tenant_id, cutoff)
       WHERE m.tenant_id = c.tenant_id
         AND m.bucket + CASE m.level WHEN 'm' THEN interval '1 minute' WHEN 'h' THEN interval '1 hour' ELSE interval '1 day' END <= c.cutoff`,
      [cutoffs.map((c) => c.tenantId), cutoffs.map((c) => c.cutoff)],
    );
    return n;
  }

  /** Deletes these members (an erasure's); returns how many there were. */
  async deleteMembers(tx: EntityManager, members: KeyedMembership[]): Promise<number> {
    if (!members.length) return 0;
    const [, n] = await tx.query<[unknown[], number]>(
      `DELETE FROM analytics_rollup_members m
       USING unnest($1::uuid[], $2::text[], $3::char(1)[], $4::timestamptz[], $5::uuid[], $6::text[], $7::char(1)[], $8::bytea[])
         AS v(tenant_id, metric, level, bucket, site_id, source, side, unit_key)
       WHERE m.tenant_id = v.tenant_id AND m.metric = v.metric AND m.level = v.level AND m.site_id = v.site_id
         AND m.source = v.source AND m.bucket = v.bucket AND m.side = v.side AND m.unit_key = v.unit_key`,
      columns(members, [...KEY_COLUMNS, 'side', 'unit_key']),
    );
    return n;
  }

  /** Takes a subject's events still pending, as takePending does (gone when the caller commits). */
  async takePendingOfSubject(tx: EntityManager, subject: SubjectMatch): Promise<FoldableEvent[]> {
    const [rows] = await tx.query<[PendingRow[], number]>(
      `DELETE FROM analytics_rollup_pending WHERE tenant_id = $1 AND ${subjectMatchSql(subject.type, '$2', '$3')}
       RETURNING tenant_id, event_name, occurred_at, site_id, session_id, user_id, source, attributes`,
      [subject.tenantId, subject.secret, subject.keys],
    );
    return rows.map(foldable);
  }

  /** A subject's events still pending, read (not taken): on ClickHouse storage, not shipped yet. */
  async pendingOfSubject(tx: EntityManager, subject: SubjectMatch): Promise<FoldableEvent[]> {
    const rows = await tx.query<PendingRow[]>(
      `SELECT tenant_id, event_name, occurred_at, site_id, session_id, user_id, source, attributes
       FROM analytics_rollup_pending WHERE tenant_id = $1 AND ${subjectMatchSql(subject.type, '$2', '$3')}`,
      [subject.tenantId, subject.secret, subject.keys],
    );
    return rows.map(foldable);
  }

  /** Deletes rollup rows (and their distinct members) of a level older than `cutoff`. */
  async deleteOlderThan(levels: string[], cutoff: Date): Promise<{ rows: number; members: number }> {
    // TypeORM answers a DELETE with [rows, count].
    const [, rows] = await this.db.query<[unknown[], number]>(
      `DELETE FROM analytics_rollups WHERE level = ANY($1::char(1)[]) AND bucket < $2`,
      [levels, cutoff],
    );
    const [, members] = await this.db.query<[unknown[], number]>(
      `DELETE FROM analytics_rollup_members WHERE level = ANY($1::char(1)[]) AND bucket < $2`,
      [levels, cutoff],
    );
    return { rows, members };
  }

  /** Rows of one metric at one level and dimension, in [from, to), under a statement timeout. */
  async read(
    q: { tenantId: string; metric: string; level: string; siteId: string; source: string; from: Date; to: Date },
    timeoutMs: number,
  ): Promise<RollupRow[]> {
    return inTimedTransaction(this.db, timeoutMs, (tx) =>
      tx.query<RollupRow[]>(
        `SELECT bucket, count, num, sum, min, max, sketch FROM analytics_rollups
         WHERE tenant_id = $1 AND metric = $2 AND level = $3 AND site_id = $4 AND source = $5 AND bucket >= $6 AND bucket < $7
         ORDER BY bucket`,
        [q.tenantId, q.metric, q.level, q.siteId, q.source, q.from, q.to],
      ),
    );
  }

  /**
   * Takes up to `limit` events from the pending table: deleted now, gone for good when the caller's
   * transaction commits (after folding them), back if it rolls back.
   */
  async takePending(tx: EntityManager, limit: number): Promise<FoldableEvent[]> {
    // TypeORM answers a DELETE … RETURNING with [rows, count].
    const [rows] = await tx.query<[PendingRow[], number]>(
      `DELETE FROM analytics_rollup_pending WHERE ctid = ANY(ARRAY(SELECT ctid FROM analytics_rollup_pending LIMIT $1))
       RETURNING tenant_id, event_name, occurred_at, site_id, session_id, user_id, source, attributes`,
      [limit],
    );
    return rows.map(foldable);
  }

  /**
   * ClickHouse storage: the shipment to write now. A shipment claimed before and not finished (its
   * process died, or its round failed) comes first, with the same events; else up to `limit`
   * pending events are claimed for a new one. The caller commits the claim before writing
   * ClickHouse. Null when nothing is pending.
   */
  async claimShipment(tx: EntityManager, limit: number): Promise<{ block: string; open: boolean } | null> {
    const open = await tx.query<{ block: string }[]>(
      `SELECT block FROM analytics_rollup_pending WHERE block IS NOT NULL ORDER BY block LIMIT 1`,
    );
    if (open.length) return { block: String(open[0].block), open: true };
    const claimed = await tx.query<{ block: string }[]>(
      `WITH b AS (SELECT nextval('analytics_shipment_seq') AS id)
       UPDATE analytics_rollup_pending SET block = (SELECT id FROM b)
       WHERE ctid = ANY(ARRAY(SELECT ctid FROM analytics_rollup_pending WHERE block IS NULL LIMIT $1))
       RETURNING block`,
      [limit],
    );
    return claimed.length ? { block: String(claimed[0].block), open: false } : null;
  }

  /** The events of a shipment, whole, in event order. */
  async shipment(tx: EntityManager, block: string): Promise<ShippedRow[]> {
    return tx.query<ShippedRow[]>(
      `SELECT tenant_id, event_id, event_name,
              to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
              (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS occurred_us,
              (extract(epoch FROM received_at) * 1000000)::bigint::text AS received_us,
              site_id, session_id, user_id, source, attributes, context, payload
       FROM analytics_rollup_pending WHERE block = $1 ORDER BY tenant_id, event_id`,
      [block],
    );
  }

  /** Removes a shipped (and folded) shipment's events: gone when the caller commits. */
  async finishShipment(tx: EntityManager, block: string): Promise<void> {
    await tx.query(`DELETE FROM analytics_rollup_pending WHERE block = $1`, [block]);
  }

  /** Events stored but not yet folded. */
  async pendingCount(): Promise<number> {
    // count(*) is a bigint, which pg hands over as a string.
    return Number((await this.db.query<{ n: string }[]>(`SELECT count(*) AS n FROM analytics_rollup_pending`))[0].n);
  }

  /** Records distinct units (keyed); returns the key and side of those not yet counted in their bucket. */
  async addMembers(tx: EntityManager, members: KeyedMembership[]): Promise<(RollupKey & { side: 'n' | 'd' })[]> {
    if (!members.length) return [];
    return tx.query<(RollupKey & { side: 'n' | 'd' })[]>(
      `INSERT INTO analytics_rollup_members (tenant_id, metric, level, bucket, site_id, source, side, unit_key)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::char(1)[], $4::timestamptz[], $5::uuid[], $6::text[], $7::char(1)[], $8::bytea[])
       ON CONFLICT DO NOTHING
       RETURNING tenant_id, metric, level, to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS bucket, site_id, source, side`,
      columns(members, [...KEY_COLUMNS, 'side', 'unit_key']),
    );
  }

  /**
   * Adds deltas to their rows (sorted by key, so concurrent folds lock rows in one order). Counts,
   * sums and extremes are added in SQL. Sketches, stored in their compact binary form, are merged
   * here: the upsert returns each row's current sketch and whether it was just inserted, and its row
   * lock holds until commit, so no concurrent fold can change the sketch before the merged one is
   * written back.
   */
  async upsert(tx: EntityManager, deltas: RollupDelta[]): Promise<void> {
    if (!deltas.length) return;
    const rows = await tx.query<(RollupKey & { inserted: boolean; sketch: Buffer | null })[]>(
      `INSERT INTO analytics_rollups AS r (tenant_id, metric, level, bucket, site_id, source, count, num, sum, min, max, sketch)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::char(1)[], $4::timestamptz[], $5::uuid[], $6::text[],
                            $7::bigint[], $8::bigint[], $9::float8[], $10::float8[], $11::float8[], $12::bytea[])
       ON CONFLICT (tenant_id, metric, level, site_id, source, bucket) DO UPDATE SET
         count = r.count + EXCLUDED.count,
         num = r.num + EXCLUDED.num,
         sum = r.sum + EXCLUDED.sum,
         min = LEAST(r.min, EXCLUDED.min),
         max = GREATEST(r.max, EXCLUDED.max)
       RETURNING (r.xmax = 0) AS inserted, CASE WHEN r.xmax = 0 THEN NULL ELSE r.sketch END AS sketch,
                 r.tenant_id, r.metric, r.level, r.site_id, r.source,
                 to_char(r.bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS bucket`,
      [
        ...columns(deltas, [...KEY_COLUMNS, 'count', 'num', 'sum', 'min', 'max']),
        deltas.map((d) => (d.sketch ? d.sketch.encode() : null)),
      ],
    );
    const byKey = new Map(deltas.map((d) => [rollupKey(d), d]));
    const merged: { d: RollupDelta; sketch: Buffer }[] = [];
    for (const r of rows) {
      if (r.inserted) continue;
      const d = byKey.get(rollupKey(r));
      if (!d?.sketch) continue;
      merged.push({ d, sketch: DDSketch.decode(r.sketch).merge(d.sketch).encode() });
    }
    if (!merged.length) return;
    await tx.query(
      `UPDATE analytics_rollups r SET sketch = v.sketch
       FROM unnest($1::uuid[], $2::text[], $3::char(1)[], $4::timestamptz[], $5::uuid[], $6::text[], $7::bytea[])
         AS v(tenant_id, metric, level, bucket, site_id, source, sketch)
       WHERE r.tenant_id = v.tenant_id AND r.metric = v.metric AND r.level = v.level AND r.site_id = v.site_id
         AND r.source = v.source AND r.bucket = v.bucket`,
      [
        merged.map((m) => m.d.tenant_id),
        merged.map((m) => m.d.metric),
        merged.map((m) => m.d.level),
        merged.map((m) => m.d.bucket),
        merged.map((m) => m.d.site_id),
        merged.map((m) => m.d.source),
        merged.map((m) => m.sketch),
      ],
    );
  }
}

/** A pending event as a shipment to ClickHouse carries it (outbox rows hold the whole event). */
export interface ShippedRow {
  tenant_id: string;
  event_id: string;
  event_name: string;
  occurred_at: string;
  occurred_us: string;
  received_us: string;
  site_id: string | null;
  session_id: string | null;
  user_id: string | null;
  source: string;
  attributes: Record<string, unknown>;
  context: Record<string, unknown> | null;
  payload: Record<string, unknown> | null;
}

/** A row of analytics_rollup_pending. */
interface PendingRow {
  tenant_id: string;
  event_name: string;
  occurred_at: Date;
  site_id: string | null;
  session_id: string | null;
  user_id: string | null;
  source: string;
  attributes: Record<string, unknown>;
}

function foldable(r: PendingRow): FoldableEvent {
  return {
    tenant_id: r.tenant_id,
    event_name: r.event_name,
    occurred_at: r.occurred_at.toISOString(),
    site_id: r.site_id,
    session_id: r.session_id,
    user_id: r.user_id,
    source: r.source,
    attributes: r.attributes,
  };
}
