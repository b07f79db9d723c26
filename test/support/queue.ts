import { Pool } from 'pg';
import { Queue } from 'bullmq';
import { waitFor } from './events';

/** Waits until the ingest queue holds no waiting, delayed or active job. */
export async function drained(queue: Queue, timeoutMs = 20000): Promise<void> {
  await waitFor(
    'the ingest queue to drain',
    async () => {
      const c = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      return c.waiting + c.delayed + c.active + c.prioritized === 0;
    },
    timeoutMs,
  );
}

export async function countRows(db: Pool, where = 'true', params: unknown[] = []): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM analytics_events_raw WHERE ${where}`, params);
  return r.rows[0].n;
}

export async function countLedger(db: Pool, where = 'true', params: unknown[] = []): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM analytics_dedupe_ledger WHERE ${where}`, params);
  return r.rows[0].n;
}

/** Waits until every job is done and every stored event is folded into the rollups. */
export async function settled(t: { ingestQueue: Queue; db: Pool }, timeoutMs = 20000): Promise<void> {
  await drained(t.ingestQueue, timeoutMs);
  await waitFor(
    'the rollup fold',
    async () => (await t.db.query('SELECT count(*)::int AS n FROM analytics_rollup_pending')).rows[0].n === 0,
    timeoutMs,
  );
}
