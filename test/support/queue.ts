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

/** Adds a maintenance job (retention, erasure…) and answers its result once it has completed. */
export async function runMaintenance(
  t: { config: { redis: { port: number; prefix: string } } },
  name: string,
  data: object,
): Promise<any> {
  const q = new Queue('maintenance', {
    connection: { host: '127.0.0.1', port: t.config.redis.port },
    prefix: `${t.config.redis.prefix}:bull`,
  });
  try {
    const job = await q.add(name, data);
    await waitFor(`the ${name} job`, async () => (await job.getState()) === 'completed', 20000);
    return (await q.getJob(job.id!))!.returnvalue;
  } finally {
    await q.close();
  }
}
