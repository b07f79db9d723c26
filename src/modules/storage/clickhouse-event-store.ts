import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ClickHouse, chLiteral } from '../../database/clickhouse';
import { AnalyticsConfig } from '../config/analytics-config';
import { StoredEvent } from '../contracts/stored-event';
import { erasureKey, SubjectMatch } from '../privacy/subject-keys';
import { FoldableEvent, RollupDelta } from '../rollups/rollup-fold';
import { RollupRepository, ShippedRow } from '../rollups/rollup.repository';
import { ensureClickHouseSchema, localTable } from './clickhouse-schema';
import {
  ConversationEventRow,
  ConversationQuery,
  EventStore,
  FoldBlock,
  FoldWork,
  FunnelQuery,
  ReportQuery,
  RollupCellRow,
  RollupQuery,
} from './event-store';
import { EventsRepository, FunnelEventRow, ReportEventRow } from './events.repository';

const q = chLiteral;

/** An event row as ClickHouse stores it (JSONEachRow; Int64 columns come back as strings). */
interface ChEventRow {
  tenant_id: string;
  event_id: string;
  event_name: string;
  occurred_at: string;
  occurred_us: string | number;
  received_us: string | number;
  site_id: string | null;
  session_id: string | null;
  user_id: string | null;
  source: string;
  attributes: string;
  context: string;
  payload: string;
  block: string;
}

/**
 * Events and rollups in ClickHouse (`ANALYTICS_STORAGE=clickhouse`), on one server or sharded by
 * tenant across a cluster. Exactly once, with ClickHouse written outside any Postgres transaction:
 *
 * 1. The persist job's one Postgres statement records each event in the dedupe ledger and, if it
 *    is fresh, leaves it whole in the pending table (the outbox): as atomic as with Postgres storage.
 * 2. A fold round claims up to a batch of pending events for a shipment (a sequence number) and
 *    commits the claim. An open shipment (claimed, not finished) is always taken before a new one.
 * 3. Under the fold lock, the round writes the shipment's events to ClickHouse in one INSERT (each
 *    row carries the shipment's id), folds them (distinct members in Postgres, rollup deltas to
 *    ClickHouse, also tagged), and deletes them from the outbox; the Postgres commit ends it.
 * 4. A round that died after writing ClickHouse leaves the shipment open, with the same events:
 *    the next round asks ClickHouse which of its events and rollup rows it holds, and writes only
 *    the others. Nothing is written twice, and nothing claimed is lost.
 */
@Injectable()
export class ClickHouseEventStore extends EventStore implements OnModuleInit, OnApplicationShutdown {
  readonly backend = 'clickhouse' as const;
  private readonly logger = new Logger(ClickHouseEventStore.name);
  private chClient: ClickHouse | null = null;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly events: EventsRepository,
    private readonly rollups: RollupRepository,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {
    super();
  }

  private get ch(): ClickHouse {
    if (!this.chClient) {
      const { urls, database, cluster } = this.config.storage.clickhouse;
      this.chClient = new ClickHouse(urls, database, cluster);
    }
    return this.chClient;
  }

  async onModuleInit(): Promise<void> {
    if (this.config.storage.backend !== 'clickhouse') return;
    await ensureClickHouseSchema(this.ch);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.chClient?.close();
  }

  insertFresh(events: StoredEvent[]): Promise<number> {
    return this.events.insertFresh(events, { foldLater: true, outbox: true });
  }

  async foldRound(limit: number, fold: FoldWork): Promise<number | null> {
    let retry = false;
    const block = await this.db.transaction(async (tx) => {
      if (!(await this.rollups.tryLockFolds(tx))) return undefined;
      const claimed = await this.rollups.claimShipment(tx, limit);
      retry = claimed?.open ?? false;
      return claimed?.block ?? null;
    });
    if (block === undefined) return null;
    if (block === null) return 0;
    return this.db.transaction(async (tx) => {
      if (!(await this.rollups.tryLockFolds(tx))) return null;
      const rows = await this.rollups.shipment(tx, block);
      if (!rows.length) return 0; // another process finished it
      await this.ship(block, rows, retry);
      await fold(tx, rows.map(foldable), { id: `ship-${block}`, retry });
      await this.rollups.finishShipment(tx, block);
      return rows.length;
    });
  }

  /** Writes a shipment's events in one INSERT; on a retry, only those ClickHouse does not hold yet. */
  private async ship(block: string, rows: ShippedRow[], retry: boolean): Promise<void> {
    let missing = rows;
    if (retry) {
      const days = [...new Set(rows.map((r) => r.occurred_at.slice(0, 10)))];
      const tenants = [...new Set(rows.map((r) => r.tenant_id))];
      const held = await this.ch.query<{ tenant_id: string; event_id: string }>(
        `SELECT tenant_id, event_id FROM ${this.ch.database}.events
         WHERE tenant_id IN (${tenants.map(q).join(', ')}) AND toDate(occurred_at) IN (${days.map((d) => `toDate(${q(d)})`).join(', ')})
           AND block = ${q(block)}`,
      );
      const have = new Set(held.map((h) => `${h.tenant_id}|${h.event_id}`));
      missing = rows.filter((r) => !have.has(`${r.tenant_id}|${r.event_id}`));
      this.logger.log(
        `Shipment ${block} resumed: ${have.size} of its ${rows.length} events were in ClickHouse already`,
      );
    }
    await this.ch.insert(
      'events',
      missing.map((r) => clickHouseEventRow(r, block)),
    );
  }

  pendingCount(): Promise<number> {
    return this.rollups.pendingCount();
  }

  /** Rollup deltas as rows of their own (added up when read); on a retry, only the rows not written yet. */
  async writeRollups(_tx: EntityManager, deltas: RollupDelta[], block: FoldBlock): Promise<void> {
    if (!deltas.length) return;
    let missing = deltas;
    if (block.retry) {
      const held = await this.ch.query<{ k: string }>(
        `SELECT concat(tenant_id, '|', metric, '|', level, '|', site_id, '|', source, '|', toString(toUnixTimestamp(bucket))) AS k
         FROM ${this.ch.database}.rollups
         WHERE tenant_id IN (${[...new Set(deltas.map((d) => d.tenant_id))].map(q).join(', ')}) AND block = ${q(block.id)}`,
      );
      const have = new Set(held.map((h) => h.k));
      missing = deltas.filter(
        (d) =>
          !have.has(`${d.tenant_id}|${d.metric}|${d.level}|${d.site_id}|${d.source}|${Date.parse(d.bucket) / 1000}`),
      );
    }
    await this.ch.insert(
      'rollups',
      missing.map((d) => clickHouseRollupRow(d, block.id)),
    );
  }

  async readRollups(r: RollupQuery, timeoutMs: number): Promise<RollupCellRow[]> {
    const rows = await this.ch.query<{
      t: string | number;
      count: string | number;
      num: string | number;
      sum: number;
      min: number | null;
      max: number | null;
      sketches: string[];
    }>(
      `SELECT toUnixTimestamp(bucket) AS t, sum(count) AS count, sum(num) AS num, sum(sum) AS sum,
              min(min) AS min, max(max) AS max, groupArrayIf(sketch, sketch != '') AS sketches
       FROM ${this.ch.database}.rollups
       WHERE tenant_id = ${q(r.tenantId)} AND metric = ${q(r.metric)} AND level = ${q(r.level)}
         AND site_id = ${q(r.siteId)} AND source = ${q(r.source)}
         AND bucket >= toDateTime(${Math.floor(r.from.getTime() / 1000)}) AND bucket < toDateTime(${Math.ceil(r.to.getTime() / 1000)})
       GROUP BY bucket ORDER BY bucket`,
      { timeoutMs },
    );
    const out: RollupCellRow[] = [];
    for (const row of rows) {
      const bucket = new Date(Number(row.t) * 1000);
      const [first, ...rest] = row.sketches.map((s) => Buffer.from(s, 'base64'));
      out.push({
        bucket,
        count: Number(row.count),
        num: Number(row.num),
        sum: row.sum,
        min: row.min,
        max: row.max,
        sketch: first ?? null,
      });
      // The other sketches of the bucket, as cells that add nothing else.
      for (const sketch of rest) out.push({ bucket, count: 0, num: 0, sum: 0, min: null, max: null, sketch });
    }
    return out;
  }

  async forReport(r: ReportQuery, timeoutMs: number): Promise<ReportEventRow[]> {
    const fromUs = r.from.getTime() * 1000;
    const toUs = r.to.getTime() * 1000;
    const rows = await this.ch.query<
      Pick<ChEventRow, 'event_name' | 'attributes' | 'session_id' | 'user_id' | 'occurred_us'>
    >(
      `SELECT event_name, attributes, session_id, user_id, occurred_us FROM ${this.ch.database}.events
       WHERE tenant_id = ${q(r.tenantId)} ${this.timeWhere(fromUs, toUs, false)}
         ${r.eventNames ? `AND event_name IN (${r.eventNames.map(q).join(', ')})` : ''}
         ${r.siteId ? `AND site_id = ${q(r.siteId)}` : ''} ${r.source ? `AND source = ${q(r.source)}` : ''}
       LIMIT ${r.limit}`,
      { timeoutMs },
    );
    return rows.map((x) => ({
      event_name: x.event_name,
      attributes: JSON.parse(x.attributes) as Record<string, unknown>,
      session_id: x.session_id,
      user_id: x.user_id,
      occurred_at: new Date(Math.floor(Number(x.occurred_us) / 1000)),
    }));
  }

  async forConversation(c: ConversationQuery, timeoutMs: number): Promise<ConversationEventRow[]> {
    const rows = await this.ch.query<Pick<ChEventRow, 'event_name' | 'attributes' | 'occurred_us' | 'event_id'>>(
      `SELECT event_name, attributes, occurred_us, event_id FROM ${this.ch.database}.events
       WHERE tenant_id = ${q(c.tenantId)} ${this.timeWhere(c.from.getTime() * 1000, c.to.getTime() * 1000, false)}
         AND event_name IN (${c.eventNames.map(q).join(', ')})
         AND visitParamExtractString(attributes, 'gen_ai.conversation.id') = ${q(c.conversationId)}
       ORDER BY occurred_us, event_id
       LIMIT ${c.limit}`,
      { timeoutMs },
    );
    return rows
      .map((x) => ({
        event_name: x.event_name,
        attributes: JSON.parse(x.attributes) as Record<string, unknown>,
        occurred_at: new Date(Math.floor(Number(x.occurred_us) / 1000)),
      }))
      .filter((x) => x.attributes['gen_ai.conversation.id'] === c.conversationId);
  }

  /** The time range in µs, also on the DateTime column the partitions and primary key use. */
  private timeWhere(fromUs: number, toUs: number, toInclusive: boolean): string {
    return `AND occurred_at >= toDateTime(${Math.floor(fromUs / 1_000_000)}) AND occurred_at <= toDateTime(${Math.floor(toUs / 1_000_000)})
      AND occurred_us >= ${Math.floor(fromUs)} AND occurred_us ${toInclusive ? '<=' : '<'} ${Math.floor(toUs)}`;
  }

  async forFunnel(f: FunnelQuery, timeoutMs: number): Promise<FunnelEventRow[]> {
    const byAttribute = typeof f.unit === 'object';
    const unitColumn = f.unit === 'user_id' ? 'user_id' : 'session_id';
    const rows = await this.ch.query<ChEventRow>(
      `SELECT event_id, event_name, occurred_us, session_id, user_id, site_id, source, attributes
       FROM ${this.ch.database}.events
       WHERE tenant_id = ${q(f.tenantId)} ${this.timeWhere(f.fromUs, f.toUs, true)}
         ${f.eventNames ? `AND event_name IN (${f.eventNames.map(q).join(', ')})` : ''}
         ${byAttribute ? '' : `AND isNotNull(${unitColumn})`}
       ${byAttribute ? '' : `ORDER BY ${unitColumn}, occurred_us, event_id`}
       LIMIT ${f.limit}`,
      { timeoutMs },
    );
    const out: (FunnelEventRow & { id: string })[] = [];
    for (const r of rows) {
      const attributes = JSON.parse(r.attributes) as Record<string, unknown>;
      let unit: string;
      if (typeof f.unit === 'object') {
        // As on Postgres: the JSON text of the attribute; missing, null and "" are no unit.
        const v = attributes[f.unit.attribute];
        if (v === undefined || v === null || v === '') continue;
        unit = JSON.stringify(v);
      } else unit = (f.unit === 'user_id' ? r.user_id : r.session_id)!;
      out.push({
        unit,
        id: r.event_id,
        event_name: r.event_name,
        at_us: Number(r.occurred_us),
        ...(f.siteId ? { site_id: r.site_id } : {}),
        ...(f.source ? { source: r.source } : {}),
        attrs: f.attributes.map((k) => attributes[k] ?? null),
      });
    }
    if (byAttribute)
      out.sort((a, b) =>
        a.unit !== b.unit ? (a.unit < b.unit ? -1 : 1) : a.at_us - b.at_us || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
    return out.map(({ id: _id, ...row }) => row);
  }

  async subjectPage(
    tenantId: string,
    type: 'user' | 'session',
    storedIds: string[],
    limit: number,
    after?: { at: string; id: string },
  ): Promise<Record<string, unknown>[]> {
    if (!storedIds.length) return [];
    const column = type === 'user' ? 'user_id' : 'session_id';
    const afterUs = after ? isoToMicros(after.at) : null;
    const rows = await this.ch.query<ChEventRow>(
      `SELECT event_id, event_name, occurred_us, received_us, tenant_id, site_id, session_id, user_id, source, attributes, context, payload
       FROM ${this.ch.database}.events
       WHERE tenant_id = ${q(tenantId)} AND ${column} IN (${storedIds.map((id) => q(type === 'session' ? id.toLowerCase() : id)).join(', ')})
         ${afterUs === null ? '' : `AND (occurred_us > ${afterUs} OR (occurred_us = ${afterUs} AND event_id > ${q(after!.id)}))`}
       ORDER BY occurred_us, event_id LIMIT ${limit}`,
    );
    return rows.map((r) => ({
      event_id: r.event_id,
      event_name: r.event_name,
      occurred_at: microsToIso(Number(r.occurred_us)),
      received_at: new Date(Math.floor(Number(r.received_us) / 1000)),
      tenant_id: r.tenant_id,
      site_id: r.site_id,
      session_id: r.session_id,
      user_id: r.user_id,
      source: r.source,
      attributes: JSON.parse(r.attributes) as unknown,
      context: JSON.parse(r.context) as unknown,
      payload: JSON.parse(r.payload) as unknown,
    }));
  }

  /**
   * Finds the subject's stored ids among the tenant's (the keys are HMACs only the service can
   * compute), reads what the rollups need of its events, then deletes them with a mutation on each
   * server and waits until every mutation is done. The fold lock, taken first, keeps shipments out
   * until the erasure commits. The subject's events still in the outbox are answered too (they are
   * stored events, taken off the outbox by the erasure's fold, never shipped).
   */
  async deleteSubject(tx: EntityManager, subject: SubjectMatch): Promise<FoldableEvent[]> {
    await this.rollups.lockFolds(tx);
    const unshipped = await this.rollups.pendingOfSubject(tx, subject);
    const column = subject.type === 'user' ? 'user_id' : 'session_id';
    const ids = await this.ch.query<{ id: string }>(
      `SELECT DISTINCT ${column} AS id FROM ${this.ch.database}.events WHERE tenant_id = ${q(subject.tenantId)} AND isNotNull(${column})`,
    );
    const keys = new Set(subject.keys.map((k) => k.toString('hex')));
    const matched = ids
      .map((r) => r.id)
      .filter((id) => keys.has(erasureKey(subject.secret, subject.type, id).toString('hex')));
    if (!matched.length) return unshipped;
    const where = `tenant_id = ${q(subject.tenantId)} AND ${column} IN (${matched.map(q).join(', ')})`;
    const rows = await this.ch.query<ChEventRow>(
      `SELECT tenant_id, event_name, occurred_us, site_id, session_id, user_id, source, attributes
       FROM ${this.ch.database}.events WHERE ${where}`,
    );
    await this.mutate('events', `DELETE WHERE ${where}`);
    const shipped = rows.map((r) => ({
      tenant_id: r.tenant_id,
      event_name: r.event_name,
      occurred_at: microsToIso(Number(r.occurred_us)),
      site_id: r.site_id,
      session_id: r.session_id,
      user_id: r.user_id,
      source: r.source,
      attributes: JSON.parse(r.attributes) as Record<string, unknown>,
    }));
    return [...shipped, ...unshipped];
  }

  /** An ALTER TABLE … DELETE on each server's local table, waited for (18.16 has no mutations_sync). */
  private async mutate(table: 'events' | 'rollups', mutation: string): Promise<void> {
    const started = performance.now();
    const local = localTable(this.ch, table);
    await this.ch.each(`ALTER TABLE ${local} ${mutation}`);
    const name = local.split('.')[1];
    for (let server = 0; server < this.ch.urls.length; server++) {
      for (let i = 0; ; i++) {
        const [{ n }] = await this.ch.query<{ n: string }>(
          `SELECT count() AS n FROM system.mutations WHERE database = ${q(this.ch.database)} AND table = ${q(name)} AND is_done = 0`,
          { server },
        );
        if (Number(n) === 0) break;
        if (i > 6000) throw new Error(`ClickHouse mutation on ${local} not done after 10 minutes`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.logger.log(`ClickHouse mutation on ${local} done in ${Math.round(performance.now() - started)} ms`);
  }

  async listPartitionDays(): Promise<string[]> {
    const days = new Set<string>();
    const [db, table] = localTable(this.ch, 'events').split('.');
    for (let server = 0; server < this.ch.urls.length; server++) {
      const rows = await this.ch.query<{ d: string }>(
        `SELECT DISTINCT partition AS d FROM system.parts WHERE database = ${q(db)} AND table = ${q(table)} AND active`,
        { server },
      );
      for (const r of rows) days.add(r.d);
    }
    return [...days].sort();
  }

  /** ClickHouse makes a day's partition with its first row. */
  async ensurePartition(): Promise<void> {}

  async dropPartition(day: string): Promise<void> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`not a partition day: ${day}`);
    await this.ch.each(`ALTER TABLE ${localTable(this.ch, 'events')} DROP PARTITION ${q(day)}`);
  }

  async deleteOlderThan(tenantId: string, cutoff: Date): Promise<{ rows: number; ledger: number }> {
    const where = `tenant_id = ${q(tenantId)} AND occurred_us < ${cutoff.getTime() * 1000}`;
    const [{ n }] = await this.ch.query<{ n: string }>(
      `SELECT count() AS n FROM ${this.ch.database}.events WHERE ${where}`,
    );
    if (Number(n)) await this.mutate('events', `DELETE WHERE ${where}`);
    const { ledger } = await this.events.deleteOlderThan(tenantId, cutoff); // the ledger (and an empty raw table)
    return { rows: Number(n), ledger };
  }

  async deleteRollupsOlderThan(levels: string[], cutoff: Date): Promise<{ rows: number; members: number }> {
    const where = `level IN (${levels.map(q).join(', ')}) AND bucket < toDateTime(${Math.floor(cutoff.getTime() / 1000)})`;
    const [{ n }] = await this.ch.query<{ n: string }>(
      `SELECT count() AS n FROM (SELECT 1 FROM ${this.ch.database}.rollups WHERE ${where}
        GROUP BY tenant_id, metric, level, site_id, source, bucket)`,
    );
    if (Number(n)) await this.mutate('rollups', `DELETE WHERE ${where}`);
    const { members } = await this.rollups.deleteOlderThan(levels, cutoff); // members stay in Postgres
    return { rows: Number(n), members };
  }
}

/** An event as a row of the ClickHouse `events` table (JSONEachRow). */
export function clickHouseEventRow(
  r: Omit<ShippedRow, 'occurred_at'> & { occurred_at?: string },
  block: string,
): Record<string, unknown> {
  return {
    tenant_id: r.tenant_id,
    event_id: r.event_id,
    event_name: r.event_name,
    occurred_at: Math.floor(Number(r.occurred_us) / 1_000_000),
    occurred_us: r.occurred_us,
    received_us: r.received_us,
    site_id: r.site_id,
    session_id: r.session_id,
    user_id: r.user_id,
    source: r.source,
    attributes: JSON.stringify(r.attributes),
    context: JSON.stringify(r.context ?? {}),
    payload: JSON.stringify(r.payload ?? {}),
    block,
  };
}

/** A rollup delta as a row of the ClickHouse `rollups` table (JSONEachRow). */
export function clickHouseRollupRow(d: RollupDelta, block: string): Record<string, unknown> {
  return {
    tenant_id: d.tenant_id,
    metric: d.metric,
    level: d.level,
    site_id: d.site_id,
    source: d.source,
    bucket: Date.parse(d.bucket) / 1000,
    count: d.count,
    num: d.num,
    sum: d.sum,
    min: d.min,
    max: d.max,
    sketch: d.sketch ? d.sketch.encode().toString('base64') : '',
    block,
  };
}

function foldable(r: ShippedRow): FoldableEvent {
  return {
    tenant_id: r.tenant_id,
    event_name: r.event_name,
    occurred_at: r.occurred_at,
    site_id: r.site_id,
    session_id: r.session_id,
    user_id: r.user_id,
    source: r.source,
    attributes: r.attributes,
  };
}

/** µs since the epoch as RFC 3339 with µs, the form Postgres answers (YYYY-MM-DDTHH:MM:SS.ffffffZ). */
export function microsToIso(us: number): string {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(us - Math.floor(us / 1_000_000) * 1_000_000).padStart(6, '0')}Z`;
}

/** RFC 3339 with up to µs as µs since the epoch. */
export function isoToMicros(iso: string): number {
  const m = /\.(\d{1,6})/.exec(iso);
  const frac = m ? Number(m[1].padEnd(6, '0')) : 0;
  return Math.floor(Date.parse(iso) / 1000) * 1_000_000 + frac;
}
