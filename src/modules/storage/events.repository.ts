import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { StoredEvent } from '../../app/queues';

export interface PersistOutcome {
  inserted: number;
  duplicates: number;
}

/** The only class with SQL for analytics_events_raw, its partitions and the dedupe ledger. */
@Injectable()
export class EventsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Daily partitions (UTC day, 'YYYY-MM-DD') that exist now. */
  async listPartitionDays(): Promise<string[]> {
    const rows: { name: string }[] = await this.db.query(`
      SELECT c.relname AS name FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'analytics_events_raw'::regclass`);
    return rows
      .map((r) => /^analytics_events_raw_p(\d{4})(\d{2})(\d{2})$/.exec(r.name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}-${m[2]}-${m[3]}`);
  }

  async ensurePartition(day: string): Promise<void> {
    await this.db.query('SELECT analytics_ensure_raw_partition($1::date)', [day]);
  }

  /**
   * Records the events in the ledger and inserts only those it had not seen, in one statement:
   * a retried job, or an event already stored by another job, inserts nothing twice. Must run
   * inside the caller's transaction. `events` must not repeat a (tenant_id, event_id) pair.
   */
  async insertFresh(tx: EntityManager, events: StoredEvent[]): Promise<PersistOutcome> {
    const cols = {
      tenant: [] as string[], event: [] as string[], name: [] as string[], occurred: [] as string[],
      received: [] as string[], site: [] as (string | null)[], session: [] as (string | null)[],
      user: [] as (string | null)[], source: [] as string[], attributes: [] as string[], context: [] as (string | null)[],
      payload: [] as (string | null)[],
    };
    for (const e of events) {
      cols.tenant.push(e.tenant_id);
      cols.event.push(e.event_id);
      cols.name.push(e.event_name);
      cols.occurred.push(e.occurred_at);
      cols.received.push(e.received_at);
      cols.site.push(e.site_id);
      cols.session.push(e.session_id);
      cols.user.push(e.user_id);
      cols.source.push(e.source);
      cols.attributes.push(JSON.stringify(e.attributes));
      cols.context.push(e.context === null ? null : JSON.stringify(e.context));
      cols.payload.push(e.payload === null || e.payload === undefined ? null : JSON.stringify(e.payload));
    }
    const rows: { inserted: number }[] = await tx.query(
      `WITH incoming AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                              $6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[], $12::jsonb[])
           AS t(tenant_id, event_id, event_name, occurred_at, received_at, site_id, session_id, user_id,
                source, attributes, context, payload)
       ), fresh AS (
         INSERT INTO analytics_dedupe_ledger (tenant_id, event_id, occurred_at)
         SELECT tenant_id, event_id, occurred_at FROM incoming
         ON CONFLICT DO NOTHING
         RETURNING tenant_id, event_id
       ), stored AS (
         INSERT INTO analytics_events_raw (tenant_id, event_id, event_name, occurred_at, received_at,
                                           site_id, session_id, user_id, source, attributes, context, payload)
         SELECT i.tenant_id, i.event_id, i.event_name, i.occurred_at, i.received_at, i.site_id, i.session_id,
                i.user_id, i.source, i.attributes, i.context, i.payload
         FROM incoming i JOIN fresh f USING (tenant_id, event_id)
         RETURNING 1
       )
       SELECT count(*)::int AS inserted FROM stored`,
      [cols.tenant, cols.event, cols.name, cols.occurred, cols.received, cols.site, cols.session, cols.user,
        cols.source, cols.attributes, cols.context, cols.payload],
    );
    const inserted = rows[0]?.inserted ?? 0;
    return { inserted, duplicates: events.length - inserted };
  }
}
