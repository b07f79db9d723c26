import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { inTimedTransaction } from '../../database/timed-query';
import { DataSource, EntityManager } from 'typeorm';
import { StoredEvent } from '../contracts/stored-event';
import { erasureKeySql, SubjectMatch, subjectMatchSql } from '../privacy/subject-keys';
import type { FoldableEvent } from '../rollups/rollup-fold';

export interface PersistOutcome {
  inserted: number;
  duplicates: number;
}

/** The fields of a stored event that reports read. */
export interface ReportEventRow {
  event_name: string;
  attributes: Record<string, unknown>;
  session_id: string | null;
  user_id: string | null;
  occurred_at: Date;
}

/**
 * A stored event as a funnel reads it: its unit (session, user or the JSON text of an attribute),
 * name, time in microseconds since the epoch, and the attributes and envelope fields asked for.
 */
export interface FunnelEventRow {
  unit: string;
  event_name: string;
  at_us: number;
  site_id?: string | null;
  source?: string;
  /** The values of the attributes asked for, in their order (null when missing). */
  attrs: unknown[];
}

/** The only class with SQL for analytics_events_raw, its partitions and the dedupe ledger. */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Daily partitions (UTC day, 'YYYY-MM-DD') that exist now. */
  async listPartitionDays(): Promise<string[]> {
    const rows = await this.db.query<{ name: string }[]>(`
      SELECT c.relname AS name FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'analytics_events_raw'::regclass`);
    return rows
      .map((r) => /^analytics_events_raw_p(\d{4})(\d{2})(\d{2})$/.exec(r.name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}-${m[2]}-${m[3]}`);
  }

  async dropPartition(day: string): Promise<void> {
    await this.db.query(`DROP TABLE IF EXISTS ${partitionName(day)}`);
  }

  /** Deletes a tenant's raw rows and ledger entries older than `cutoff`; returns the rows deleted. */
  async deleteOlderThan(tenantId: string, cutoff: Date): Promise<{ rows: number; ledger: number }> {
    // TypeORM answers a DELETE with [rows, count].
    const [, rows] = await this.db.query<[unknown[], number]>(
      `DELETE FROM analytics_events_raw WHERE tenant_id = $1 AND occurred_at < $2`,
      [tenantId, cutoff],
    );
    const [, ledger] = await this.db.query<[unknown[], number]>(
      `DELETE FROM analytics_dedupe_ledger WHERE tenant_id = $1 AND occurred_at < $2`,
      [tenantId, cutoff],
    );
    return { rows, ledger };
  }

  /** Ledger entries of every tenant older than `cutoff` (their partitions are gone). */
  async deleteLedgerOlderThan(cutoff: Date): Promise<number> {
    const [, n] = await this.db.query<[unknown[], number]>(
      `DELETE FROM analytics_dedupe_ledger WHERE occurred_at < $1`,
      [cutoff],
    );
    return n;
  }

  /**
   * Deletes every stored event of a subject, found by the keys of its stored forms; answers what the
   * rollups read of each (so that the members they recorded can go too).
   */
  async deleteSubject(tx: EntityManager, subject: SubjectMatch): Promise<FoldableEvent[]> {
    // TypeORM answers a DELETE … RETURNING with [rows, count].
    const [rows] = await tx.query<[(Omit<FoldableEvent, 'occurred_at'> & { occurred_at: Date })[], number]>(
      `DELETE FROM analytics_events_raw WHERE tenant_id = $1 AND ${subjectMatchSql(subject.type, '$2', '$3')}
       RETURNING tenant_id, event_name, occurred_at, site_id, session_id, user_id, source, attributes`,
      [subject.tenantId, subject.secret, subject.keys],
    );
    return rows.map((r) => ({ ...r, occurred_at: r.occurred_at.toISOString() }));
  }

  /** One page of a subject's stored events (any of its stored ids), oldest first, after the (occurred_at, event_id) cursor. */
  async subjectPage(
    tenantId: string,
    type: 'user' | 'session',
    storedIds: string[],
    limit: number,
    after?: { at: string; id: string },
  ): Promise<Record<string, unknown>[]> {
    return this.db.query<Record<string, unknown>[]>(
      `SELECT event_id, event_name, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
              received_at, tenant_id, site_id, session_id, user_id, source, attributes, context, payload
       FROM analytics_events_raw
       WHERE tenant_id = $1 AND ${type === 'user' ? 'user_id = ANY($2::text[])' : 'session_id = ANY($2::uuid[])'}
         AND ($3::timestamptz IS NULL OR (occurred_at, event_id) > ($3, $4::uuid))
       ORDER BY occurred_at, event_id LIMIT $5`,
      [tenantId, storedIds, after?.at ?? null, after?.id ?? null, limit],
    );
  }

  /**
   * The fields reports need, of one tenant's events of some types in [from, to), at most `limit`
   * rows, under a statement timeout.
   */
  async forReport(
    q: {
      tenantId: string;
      eventNames: string[] | null;
      siteId: string | null;
      source: string | null;
      from: Date;
      to: Date;
      limit: number;
    },
    timeoutMs: number,
  ): Promise<ReportEventRow[]> {
    return inTimedTransaction(this.db, timeoutMs, (tx) =>
      tx.query<ReportEventRow[]>(
        `SELECT event_name, attributes, session_id, user_id, occurred_at FROM analytics_events_raw
         WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
           AND ($4::text[] IS NULL OR event_name = ANY($4)) AND ($5::uuid IS NULL OR site_id = $5) AND ($6::text IS NULL OR source = $6)
         LIMIT $7`,
        [q.tenantId, q.from, q.to, q.eventNames, q.siteId, q.source, q.limit],
      ),
    );
  }

  /**
   * A conversation's events (those naming it in gen_ai.conversation.id) of some types in [from, to),
   * oldest first, at most `limit`, under a statement timeout. Only the attributes are read.
   */
  async forConversation(
    q: { tenantId: string; conversationId: string; eventNames: string[]; from: Date; to: Date; limit: number },
    timeoutMs: number,
  ): Promise<{ event_name: string; occurred_at: Date; attributes: Record<string, unknown> }[]> {
    return inTimedTransaction(this.db, timeoutMs, (tx) =>
      tx.query(
        `SELECT event_name, occurred_at, attributes FROM analytics_events_raw
         WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND event_name = ANY($4)
           AND attributes->>'gen_ai.conversation.id' = $5
         ORDER BY occurred_at, event_id LIMIT $6`,
        [q.tenantId, q.from, q.to, q.eventNames, q.conversationId, q.limit],
      ),
    );
  }

  /**
   * Funnel input: a tenant's events with a unit in [from, to] (µs since the epoch, both inclusive) in
   * (unit, time, id) order, at most `limit` rows, under a statement timeout. An attribute unit is the
   * JSON text of the attribute (so 5 and "5" are two units); events where it is missing, null or ""
   * are left out.
   */
  async forFunnel(
    q: {
      tenantId: string;
      unit: 'session_id' | 'user_id' | { attribute: string };
      eventNames: string[] | null;
      fromUs: number;
      toUs: number;
      attributes: string[];
      siteId: boolean;
      source: boolean;
      limit: number;
    },
    timeoutMs: number,
  ): Promise<FunnelEventRow[]> {
    const params: unknown[] = [q.tenantId, isoMicros(q.fromUs), isoMicros(q.toUs), q.eventNames, q.limit];
    const param = (v: unknown) => `$${params.push(v)}`;
    let unit: string;
    let present: string;
    if (typeof q.unit === 'object') {
      const key = param(q.unit.attribute);
      unit = `(attributes -> ${key}::text)::text`;
      present = `attributes -> ${key}::text NOT IN ('null'::jsonb, '""'::jsonb)`;
    } else {
      unit = q.unit === 'session_id' ? 'session_id::text' : 'user_id';
      present = `${q.unit} IS NOT NULL`;
    }
    const columns = [
      `${unit} AS unit`,
      'event_name',
      '(extract(epoch FROM occurred_at) * 1000000)::float8 AS at_us',
      ...(q.siteId ? ['site_id::text AS site_id'] : []),
      ...(q.source ? ['source'] : []),
      `jsonb_build_array(${q.attributes.map((k) => `attributes -> ${param(k)}::text`).join(', ')}) AS attrs`,
    ];
    return inTimedTransaction(this.db, timeoutMs, async (tx) => {
      // Over a month of daily partitions the plan's cost passes jit_above_cost, and compiling it took
      // longer than the query (2.6 s of 2.9 s for 54,000 rows of the bench's attribute funnel).
      await tx.query('SET LOCAL jit = off');
      return tx.query<FunnelEventRow[]>(
        `SELECT ${columns.join(', ')} FROM analytics_events_raw
         WHERE tenant_id = $1 AND occurred_at >= $2::timestamptz AND occurred_at <= $3::timestamptz AND ${present}
           AND ($4::text[] IS NULL OR event_name = ANY($4))
         ORDER BY unit, occurred_at, event_id LIMIT $5`,
        params,
      );
    });
  }

  /** Which of these (tenant, event) pairs the dedupe ledger holds: stored once, whatever comes again. */
  async inLedger(pairs: { tenant_id: string; event_id: string }[], timeoutMs: number): Promise<Set<string>> {
    if (!pairs.length) return new Set();
    const rows = await inTimedTransaction(this.db, timeoutMs, (tx) =>
      tx.query<{ tenant_id: string; event_id: string }[]>(
        `SELECT l.tenant_id, l.event_id FROM analytics_dedupe_ledger l
         JOIN unnest($1::uuid[], $2::uuid[]) AS p(tenant_id, event_id) USING (tenant_id, event_id)`,
        [pairs.map((p) => p.tenant_id), pairs.map((p) => p.event_id)],
      ),
    );
    return new Set(rows.map((r) => `${r.tenant_id}|${r.event_id}`));
  }

  async ensurePartition(day: string): Promise<void> {
    await this.db.query('SELECT analytics_ensure_raw_partition($1::date)', [day]);
  }

  /**
   * Records the events in the ledger and inserts only those it had not seen, in one statement that
   * answers how many it stored:
   * a retried job, or an event already stored by another job, inserts nothing twice. One statement
   * is atomic on its own. `events` must not repeat a (tenant_id, event_id) pair.
   * With `foldLater`, the stored events are also added to the rollups' pending table, in the same
   * statement: whatever is stored is folded exactly once, whatever is not is never folded.
   *
   * With `outbox` (ClickHouse storage), the fresh events go whole into the pending table instead,
   * from which the fold ships them to ClickHouse; the raw table is not written.
   *
   * It runs once per job, so it is a named prepared statement: each pooled connection parses and
   * plans it once (Postgres re-plans by itself when a partition comes or goes), where an unnamed
   * statement would be parsed and planned again for every job.
   */
  async insertFresh(events: StoredEvent[], opts: { foldLater: boolean; outbox?: boolean }): Promise<number> {
    // A query runner hands out the pooled pg connection itself (TypeORM's public API), which takes
    // named statements; TypeORM's own query() does not.
    const runner = this.db.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      const { rows } = await client.query<{ stored: number }>({
        name: opts.outbox ? 'analytics_insert_fresh_outbox' : 'analytics_insert_fresh',
        text: opts.outbox ? INSERT_FRESH_OUTBOX : INSERT_FRESH,
        values: [JSON.stringify(events), opts.foldLater],
      });
      return rows[0].stored;
    } finally {
      await runner.release();
    }
  }
}

/** An instant in µs since the epoch as an RFC 3339 text Postgres reads exactly. */
function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // …:SS.mmmZ
  return `${iso.slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}

function partitionName(day: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`not a partition day: ${day}`);
  return `analytics_events_raw_p${day.replace(/-/g, '')}`;
}

// The events travel as one JSON document, decomposed by Postgres: one native JSON.stringify
// here instead of a dozen array literals whose every JSON element pg would escape again.
const freshSql = (outbox: boolean) => `
WITH incoming AS (
   SELECT * FROM json_to_recordset($1::json)
     AS t(tenant_id uuid, event_id uuid, event_name text, occurred_at timestamptz, received_at timestamptz, site_id uuid,
          session_id uuid, user_id text, source text, attributes jsonb, context jsonb, payload jsonb)
 ), fresh AS (
   INSERT INTO analytics_dedupe_ledger (tenant_id, event_id, occurred_at)
   SELECT tenant_id, event_id, occurred_at FROM incoming
   ORDER BY tenant_id, event_id -- one lock order for concurrent jobs that share events
   ON CONFLICT DO NOTHING
   RETURNING tenant_id, event_id
 ), stored AS (
   INSERT INTO ${outbox ? 'analytics_rollup_pending' : 'analytics_events_raw'} (tenant_id, event_id, event_name, occurred_at, received_at,
                                     site_id, session_id, user_id, source, attributes, context, payload)
   SELECT i.tenant_id, i.event_id, i.event_name, i.occurred_at, i.received_at, i.site_id, i.session_id,
          i.user_id, i.source, i.attributes, i.context, i.payload
   FROM incoming i JOIN fresh f USING (tenant_id, event_id)
   -- An erasure is never undone by a late job: events of an erased subject received before the
   -- request are recorded in the ledger (so no retry stores them) but never stored.
   -- A request holds its subject only as keys under the tenant's secret (see subject-keys.ts); the
   -- keys are computed only for events of a tenant with a request made after the event arrived.
   WHERE NOT EXISTS (
     SELECT 1 FROM analytics_erasures x JOIN analytics_tenants t ON t.id = x.tenant_id
     WHERE x.tenant_id = i.tenant_id AND i.received_at <= x.requested_at
       AND ((x.subject_type = 'user' AND i.user_id IS NOT NULL
             AND ${erasureKeySql('user', 'i.user_id', 't.pseudonym_secret')} = ANY(x.subject_keys))
         OR (x.subject_type = 'session' AND i.session_id IS NOT NULL
             AND ${erasureKeySql('session', 'i.session_id::text', 't.pseudonym_secret')} = ANY(x.subject_keys))))
   RETURNING tenant_id, event_id, event_name, occurred_at, site_id, session_id, user_id, source, attributes
 ), pending AS (
   INSERT INTO analytics_rollup_pending (tenant_id, event_name, occurred_at, site_id, session_id, user_id, source, attributes)
   SELECT tenant_id, event_name, occurred_at, site_id, session_id, user_id, source, attributes FROM stored
   WHERE $2::boolean AND NOT ${outbox}
 )
 SELECT count(*)::int AS stored FROM stored`;

const INSERT_FRESH = freshSql(false);
const INSERT_FRESH_OUTBOX = freshSql(true);
