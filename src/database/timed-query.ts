import { DataSource, EntityManager } from 'typeorm';

/**
 * Runs `work` in a transaction whose statements Postgres cancels after `timeoutMs`, so a report
 * that would run too long ends in the database rather than holding a connection.
 */
export function inTimedTransaction<T>(
  db: DataSource,
  timeoutMs: number,
  work: (tx: EntityManager) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    return work(tx);
  });
}

/** Whether Postgres cancelled a statement (statement_timeout, or a cancel request): SQLSTATE 57014. */
export function isStatementCancelled(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '57014';
}

/** Whether no pooled connection came free within the pool's connectionTimeoutMillis (pg-pool's error). */
export function isPoolTimeout(err: unknown): boolean {
  return err instanceof Error && /timeout exceeded when trying to connect/i.test(err.message);
}
