import { Pool } from 'pg';
import { ACKNOWLEDGED, EventRecord } from './client';

const ALL_SITES = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
/** The count metric checked against a recount of the raw rows, and the event it counts. */
export const ROLLUP_METRIC = { metric: 'voice.barge_in_count', event: 'voice.barge_in', level: 'h' };

export interface Verification {
  sent: number;
  acknowledged: number;
  accepted: number;
  duplicate: number;
  refused: number;
  unresolved: number;
  /** rows in analytics_events_raw for the run's tenants, and distinct event ids among them */
  rows: number;
  distinct: number;
  lost: string[];
  storedTwice: string[];
  storedRefused: string[];
  /** stored, but the client never got a verdict for it (allowed: at most once) */
  unresolvedStored: number;
  storedNeverSent: number;
  /** valid events answered other than accepted/duplicate, and refused ones answered accepted */
  unexpectedVerdicts: Map<string, number>;
  ledgerWithoutRow: number;
  lostBy: Map<string, number>;
  /** events without a final verdict, by the last failure their attempts met */
  unresolvedBy: Map<string, number>;
  rollups: { buckets: number; rollupSum: number; rawCount: number; mismatched: string[] };
}

/** Compares the client's book with what Postgres holds. */
export async function verify(db: Pool, tenants: string[], book: Map<string, EventRecord>): Promise<Verification> {
  const { rows } = await db.query<{ event_id: string; n: string }>(
    `SELECT event_id::text AS event_id, count(*)::text AS n FROM analytics_events_raw WHERE tenant_id = ANY($1::uuid[]) GROUP BY event_id`,
    [tenants],
  );
  const stored = new Map(rows.map((r) => [r.event_id, Number(r.n)]));
  const v: Verification = {
    sent: book.size,
    acknowledged: 0,
    accepted: 0,
    duplicate: 0,
    refused: 0,
    unresolved: 0,
    rows: rows.reduce((s, r) => s + Number(r.n), 0),
    distinct: stored.size,
    lost: [],
    storedTwice: [],
    storedRefused: [],
    unresolvedStored: 0,
    storedNeverSent: 0,
    unexpectedVerdicts: new Map(),
    ledgerWithoutRow: 0,
    lostBy: new Map(),
    unresolvedBy: new Map(),
    rollups: { buckets: 0, rollupSum: 0, rawCount: 0, mismatched: [] },
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const [id, e] of book) {
    const n = stored.get(id) ?? 0;
    if (n > 1) v.storedTwice.push(id);
    if (e.final === null) {
      v.unresolved++;
      if (n > 0) v.unresolvedStored++;
      bump(v.unresolvedBy, e.lastFailure ?? 'never sent');
      continue;
    }
    const acked = ACKNOWLEDGED.has(e.final);
    if (acked) {
      v.acknowledged++;
      if (e.final === 'accepted') v.accepted++;
      else v.duplicate++;
      if (n === 0) {
        v.lost.push(id);
        bump(v.lostBy, describeLoss(e));
      }
    } else {
      v.refused++;
      if (n > 0) v.storedRefused.push(id);
    }
    const expected =
      e.intent === 'valid' ? acked : e.intent === 'invalid' ? e.final === 'rejected' : e.final === 'dropped';
    if (!expected) bump(v.unexpectedVerdicts, `${e.intent} event answered ${e.final}`);
  }
  for (const id of stored.keys()) if (!book.has(id)) v.storedNeverSent++;

  const ledger = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM analytics_dedupe_ledger l WHERE l.tenant_id = ANY($1::uuid[])
       AND NOT EXISTS (SELECT 1 FROM analytics_events_raw r
                       WHERE r.tenant_id = l.tenant_id AND r.occurred_at = l.occurred_at AND r.event_id = l.event_id)`,
    [tenants],
  );
  v.ledgerWithoutRow = Number(ledger.rows[0].n);

  // Rollups: the hour buckets of the count metric (all sites, all sources) against count(*) of raw rows.
  const rollup = await db.query<{ tenant_id: string; bucket: string; n: string }>(
    `SELECT tenant_id::text, extract(epoch FROM bucket)::bigint::text AS bucket, sum(count)::text AS n
       FROM analytics_rollups
      WHERE tenant_id = ANY($1::uuid[]) AND metric = $2 AND level = $3 AND site_id = $4 AND source = '*'
      GROUP BY 1, 2`,
    [tenants, ROLLUP_METRIC.metric, ROLLUP_METRIC.level, ALL_SITES],
  );
  const raw = await db.query<{ tenant_id: string; bucket: string; n: string }>(
    `SELECT tenant_id::text, extract(epoch FROM date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::bigint::text AS bucket,
            count(*)::text AS n
       FROM analytics_events_raw WHERE tenant_id = ANY($1::uuid[]) AND event_name = $2 GROUP BY 1, 2`,
    [tenants, ROLLUP_METRIC.event],
  );
  const byKey = new Map<string, { rollup: number; raw: number }>();
  for (const r of rollup.rows) byKey.set(`${r.tenant_id}|${r.bucket}`, { rollup: Number(r.n), raw: 0 });
  for (const r of raw.rows) {
    const k = `${r.tenant_id}|${r.bucket}`;
    byKey.set(k, { rollup: byKey.get(k)?.rollup ?? 0, raw: Number(r.n) });
  }
  for (const [k, c] of byKey) {
    v.rollups.buckets++;
    v.rollups.rollupSum += c.rollup;
    v.rollups.rawCount += c.raw;
    if (c.rollup !== c.raw) {
      const [tenant, epoch] = k.split('|');
      v.rollups.mismatched.push(
        `${tenant.slice(0, 8)} ${new Date(Number(epoch) * 1000).toISOString()}: ${c.rollup} vs ${c.raw}`,
      );
    }
  }
  return v;
}

/** How an acknowledged event that was not stored got its verdict: the verdict, after what. */
function describeLoss(e: EventRecord): string {
  const before = e.history.slice(0, -1);
  if (!before.length) return `${e.final} at the first attempt`;
  const kinds = [...new Set(before.map((h) => (h === 'net' ? 'no answer' : `HTTP ${h}`)))];
  return `${e.final} after ${kinds.join(' / ')}`;
}
