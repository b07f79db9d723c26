import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { QuarantinedEvent, StoredEvent } from '../contracts/stored-event';
import { EventError } from './event-error';
import { SubjectMatch, subjectMatchSql } from '../privacy/subject-keys';

export interface QuarantineRow {
  event_id: string;
  event_name: string;
  errors: EventError[];
  quarantined_at: string;
  event: StoredEvent;
}

/** The only class with SQL for analytics_quarantine. */
@Injectable()
export class QuarantineRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Keeps events apart with their errors; an event already there stays as it was. */
  async insert(items: QuarantinedEvent[]): Promise<number> {
    if (!items.length) return 0;
    const rows = await this.db.query<unknown[]>(
      `INSERT INTO analytics_quarantine (tenant_id, event_id, event_name, event, errors)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[])
       ON CONFLICT DO NOTHING RETURNING 1`,
      [
        items.map((q) => q.event.tenant_id),
        items.map((q) => q.event.event_id),
        items.map((q) => q.event.event_name),
        items.map((q) => JSON.stringify(q.event)),
        items.map((q) => JSON.stringify(q.errors)),
      ],
    );
    return rows.length;
  }

  async countPending(tenantId: string): Promise<number> {
    return (
      await this.db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM analytics_quarantine WHERE tenant_id = $1 AND replayed_at IS NULL`,
        [tenantId],
      )
    )[0].n;
  }

  /** Pending events in arrival order, after the (quarantined_at, event_id) cursor. */
  async pending(tenantId: string, limit: number, after?: { at: string; id: string }): Promise<QuarantineRow[]> {
    const rows = await this.db.query<QuarantineRow[]>(
      // The cursor keeps microseconds (a JS Date would drop them and the page would repeat forever).
      `SELECT event_id, event_name, errors, event,
              to_char(quarantined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS quarantined_at
       FROM analytics_quarantine
       WHERE tenant_id = $1 AND replayed_at IS NULL AND ($2::timestamptz IS NULL OR (quarantined_at, event_id) > ($2, $3::uuid))
       ORDER BY quarantined_at, event_id LIMIT $4`,
      [tenantId, after?.at ?? null, after?.id ?? null, limit],
    );
    return rows;
  }

  /** Deletes a subject's quarantined events, found by the hash of its stored id. */
  async deleteSubject(tx: EntityManager, subject: SubjectMatch): Promise<number> {
    const field = subject.type === 'user' ? `event->>'user_id'` : `lower(event->>'session_id')`;
    // TypeORM answers a DELETE with [rows, count].
    const [, n] = await tx.query<[unknown[], number]>(
      `DELETE FROM analytics_quarantine WHERE tenant_id = $1 AND ${subjectMatchSql(subject.type, '$2', '$3', field)}`,
      [subject.tenantId, subject.secret, subject.keys],
    );
    return n;
  }

  /**
   * Quarantined events past their tenant's retention (by the event's own time, as stored events
   * go): no longer kept, replayed or not.
   */
  async deleteOlderThan(cutoffs: { tenantId: string; cutoff: Date }[]): Promise<number> {
    if (!cutoffs.length) return 0;
    const [, n] = await this.db.query<[unknown[], number]>(
      `DELETE FROM analytics_quarantine q USING unnest($1::uuid[], $2::timestamptz[]) AS c(tenant_id, cutoff)
       WHERE q.tenant_id = c.tenant_id AND (q.event->>'occurred_at')::timestamptz < c.cutoff`,
      [cutoffs.map((c) => c.tenantId), cutoffs.map((c) => c.cutoff)],
    );
    return n;
  }

  async markReplayed(tenantId: string, eventIds: string[]): Promise<void> {
    if (eventIds.length)
      await this.db.query(
        `UPDATE analytics_quarantine SET replayed_at = now() WHERE tenant_id = $1 AND event_id = ANY($2::uuid[])`,
        [tenantId, eventIds],
      );
  }

  async updateErrors(tenantId: string, updates: { eventId: string; errors: EventError[] }[]): Promise<void> {
    if (!updates.length) return;
    await this.db.query(
      `UPDATE analytics_quarantine q SET errors = u.errors FROM unnest($2::uuid[], $3::jsonb[]) AS u(event_id, errors)
       WHERE q.tenant_id = $1 AND q.event_id = u.event_id`,
      [tenantId, updates.map((u) => u.eventId), updates.map((u) => JSON.stringify(u.errors))],
    );
  }
}
