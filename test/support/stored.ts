import { DDSketch } from '../../src/modules/rollups/ddsketch';
import { chLiteral as lit } from '../../src/database/clickhouse';
import { TestEnv } from './test-env';

/** A stored event as the suites compare it, read back from the file's backend. */
export interface StoredRow {
  event_id: string;
  event_name: string;
  attributes: Record<string, unknown>;
  session_id: string | null;
  user_id: string | null;
  occurred_at: Date;
  tenant_id: string;
  site_id: string | null;
  source: string;
}

/** Stored events (of some ids, or of a tenant, or all) counted in the file's backend. */
export async function countStored(
  t: TestEnv,
  f: { eventIds?: unknown[]; tenantId?: string; userId?: string; sessionId?: string } = {},
): Promise<number> {
  if (!t.ch) {
    const where: string[] = ['true'];
    const params: unknown[] = [];
    if (f.eventIds) where.push(`event_id = ANY($${params.push(f.eventIds.map(String))}::uuid[])`);
    if (f.tenantId) where.push(`tenant_id = $${params.push(f.tenantId)}`);
    if (f.userId) where.push(`user_id = $${params.push(f.userId)}`);
    if (f.sessionId) where.push(`session_id = $${params.push(f.sessionId)}`);
    const r = await t.db.query(
      `SELECT count(*)::int AS n FROM analytics_events_raw WHERE ${where.join(' AND ')}`,
      params,
    );
    return r.rows[0].n;
  }
  const where: string[] = ['1'];
  if (f.eventIds)
    where.push(`event_id IN (${f.eventIds.map((id) => lit(String(id).toLowerCase())).join(', ') || "''"})`);
  if (f.tenantId) where.push(`tenant_id = ${lit(f.tenantId)}`);
  if (f.userId) where.push(`user_id = ${lit(f.userId)}`);
  if (f.sessionId) where.push(`session_id = ${lit(f.sessionId.toLowerCase())}`);
  const [{ n }] = await t.ch.query<{ n: string }>(
    `SELECT count() AS n FROM ${t.ch.database}.events WHERE ${where.join(' AND ')}`,
  );
  return Number(n);
}

/** A tenant's stored events. */
export async function storedRows(t: TestEnv, tenantId: string): Promise<StoredRow[]> {
  if (!t.ch)
    return (
      await t.db.query(
        `SELECT event_id, event_name, attributes, session_id::text, user_id, occurred_at, tenant_id, site_id, source
         FROM analytics_events_raw WHERE tenant_id = $1`,
        [tenantId],
      )
    ).rows;
  const rows = await t.ch.query<Record<string, string | null>>(
    `SELECT event_id, event_name, attributes, session_id, user_id, occurred_us, tenant_id, site_id, source
     FROM ${t.ch.database}.events WHERE tenant_id = ${lit(tenantId)}`,
  );
  return rows.map((r) => ({
    event_id: r.event_id!,
    event_name: r.event_name!,
    attributes: JSON.parse(r.attributes!),
    session_id: r.session_id,
    user_id: r.user_id,
    occurred_at: new Date(Math.floor(Number(r.occurred_us) / 1000)),
    tenant_id: r.tenant_id!,
    site_id: r.site_id,
    source: r.source!,
  }));
}

/** A rollup row as the suites compare it: one per key, whatever the backend stores per fold. */
export interface RollupRowOut {
  tenant_id: string;
  metric: string;
  level: string;
  site_id: string;
  source: string;
  bucket: Date;
  count: number;
  num: number;
  sum: number;
  min: number | null;
  max: number | null;
  /** The merged sketch, or null. */
  sketch: DDSketch | null;
}

/** Every rollup row of a level, ordered by key. */
export async function rollupRows(t: TestEnv, level: 'm' | 'h' | 'd'): Promise<RollupRowOut[]> {
  if (!t.ch)
    return (
      await t.db.query(
        `SELECT tenant_id, metric, level, site_id, source, bucket, count, num, sum, min, max, sketch FROM analytics_rollups
         WHERE level = $1 ORDER BY tenant_id, metric, site_id, source, bucket`,
        [level],
      )
    ).rows.map((r) => ({
      ...r,
      count: Number(r.count),
      num: Number(r.num),
      sketch: r.sketch ? DDSketch.decode(r.sketch) : null,
    }));
  const rows = await t.ch.query<Record<string, unknown>>(
    `SELECT tenant_id, metric, level, site_id, source, toUnixTimestamp(bucket) AS t, sum(count) AS count, sum(num) AS num,
            sum(sum) AS sum, min(min) AS min, max(max) AS max, groupArrayIf(sketch, sketch != '') AS sketches
     FROM ${t.ch.database}.rollups WHERE level = ${lit(level)}
     GROUP BY tenant_id, metric, level, site_id, source, bucket ORDER BY tenant_id, metric, site_id, source, bucket`,
  );
  return rows.map((r) => {
    const sketches = (r.sketches as string[]).map((s) => DDSketch.decode(Buffer.from(s, 'base64')));
    const sketch = sketches.length ? sketches.reduce((a, b) => a.merge(b)) : null;
    return {
      tenant_id: r.tenant_id as string,
      metric: r.metric as string,
      level: r.level as string,
      site_id: r.site_id as string,
      source: r.source as string,
      bucket: new Date(Number(r.t) * 1000),
      count: Number(r.count),
      num: Number(r.num),
      sum: r.sum as number,
      min: r.min as number | null,
      max: r.max as number | null,
      sketch,
    };
  });
}

/** Some stored events whole, as a persist-events job carries them (to run a job of stored events again). */
export async function jobEvents(t: TestEnv, limit: number): Promise<Record<string, unknown>[]> {
  if (!t.ch)
    return (
      await t.db.query(
        `SELECT event_id, event_name, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
                received_at, tenant_id, site_id, session_id, user_id, source, attributes, context, payload
         FROM analytics_events_raw LIMIT $1`,
        [limit],
      )
    ).rows.map((s) => ({ ...s, received_at: s.received_at.toISOString() }));
  const rows = await t.ch.query<Record<string, string | null>>(
    `SELECT event_id, event_name, occurred_us, received_us, tenant_id, site_id, session_id, user_id, source, attributes, context, payload
     FROM ${t.ch.database}.events LIMIT ${limit}`,
  );
  const iso = (us: string | null) => {
    const n = Number(us);
    return `${new Date(Math.floor(n / 1000)).toISOString().slice(0, 19)}.${String(n % 1_000_000).padStart(6, '0')}Z`;
  };
  return rows.map((r) => ({
    event_id: r.event_id,
    event_name: r.event_name,
    occurred_at: iso(r.occurred_us),
    received_at: new Date(Math.floor(Number(r.received_us) / 1000)).toISOString(),
    tenant_id: r.tenant_id,
    site_id: r.site_id,
    session_id: r.session_id,
    user_id: r.user_id,
    source: r.source,
    attributes: JSON.parse(r.attributes!),
    context: JSON.parse(r.context!),
    payload: JSON.parse(r.payload!),
  }));
}

/** The days that have a partition of the events (on ClickHouse: a part with rows, on any server). */
export async function partitionDays(t: TestEnv): Promise<string[]> {
  if (!t.ch)
    return (
      await t.db.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'analytics_events_raw'::regclass`)
    ).rows
      .map((r) => /_p(\d{4})(\d{2})(\d{2})$/.exec(r.name as string))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => `${m[1]}-${m[2]}-${m[3]}`)
      .sort();
  const days = new Set<string>();
  for (let server = 0; server < t.ch.urls.length; server++)
    for (const r of await t.ch.query<{ d: string }>(
      `SELECT DISTINCT partition AS d FROM system.parts WHERE database = ${lit(t.ch.database)} AND table IN ('events', 'events_local') AND active`,
      { server },
    ))
      days.add(r.d);
  return [...days].sort();
}
