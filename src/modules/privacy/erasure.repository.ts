import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export interface ErasureRequest {
  id: string;
  tenant_id: string;
  subject_type: 'user' | 'session';
  status: 'pending' | 'completed';
  requested_at: string;
  completed_at: string | null;
  rows_deleted: number | null;
}

export interface ErasureSubject {
  tenant_id: string;
  subject_type: 'user' | 'session';
  /** One key per stored form of the subject's id (`erasureKey`), never the id. */
  subject_keys: Buffer[];
  requested_at: Date;
}

/** The only class with SQL for analytics_erasures and analytics_erasure_audit. */
@Injectable()
export class ErasureRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Records a request, unless the tenant already has `maxPending` requests pending: then null.
   * Serialized per tenant, so concurrent requests cannot pass the quota together.
   */
  async create(
    tenantId: string,
    type: 'user' | 'session',
    keys: Buffer[],
    maxPending: number,
  ): Promise<ErasureRequest | null> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`erasures:${tenantId}`]);
      const rows = await tx.query<ErasureRequest[]>(
        `INSERT INTO analytics_erasures (tenant_id, subject_type, subject_keys)
         SELECT $1, $2, $3::bytea[]
         WHERE (SELECT count(*) FROM analytics_erasures WHERE tenant_id = $1 AND status = 'pending') < $4
         RETURNING id, tenant_id, subject_type, status, requested_at, completed_at, rows_deleted`,
        [tenantId, type, keys, maxPending],
      );
      return rows[0] ?? null;
    });
  }

  async find(tenantId: string, id: string): Promise<ErasureRequest | null> {
    const rows = await this.db.query<ErasureRequest[]>(
      `SELECT id, tenant_id, subject_type, status, requested_at, completed_at, rows_deleted FROM analytics_erasures WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    return rows[0] ?? null;
  }

  async subject(id: string): Promise<ErasureSubject | null> {
    const rows = await this.db.query<ErasureSubject[]>(
      `SELECT tenant_id, subject_type, subject_keys, requested_at FROM analytics_erasures WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /**
   * Runs the deletion with concurrent event inserts excluded: the SHARE lock on the ledger waits for
   * every insert in flight, and inserts that start later see the committed erasure request.
   */
  async eraseExclusively<T>(fn: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE analytics_dedupe_ledger IN SHARE MODE');
      return fn(tx);
    });
  }

  async complete(tx: EntityManager, id: string, rows: number): Promise<void> {
    await tx.query(
      `UPDATE analytics_erasures SET status = 'completed', rows_deleted = $2, completed_at = now() WHERE id = $1`,
      [id, rows],
    );
    await tx.query(
      `INSERT INTO analytics_erasure_audit (erasure_id, tenant_id, subject_type, rows_deleted, requested_at)
       SELECT id, tenant_id, subject_type, rows_deleted, requested_at FROM analytics_erasures WHERE id = $1`,
      [id],
    );
  }
}
