import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { cpuShares, cpuSnapshot } from './proc-cpu';
import { loadEvent } from './traffic';
import { RAW_COLUMNS, rawCopyLine } from '../copy-rows';

export interface CopyCeiling {
  rows: number;
  counted: number;
  chunk_rows: number;
  streams: number;
  seconds: number;
  rows_per_s: number;
  build_seconds: number;
  /** CPU shares during the COPY (postgres, redis, this process as `generator`, the machine) */
  cpu: Record<string, number>;
}

/**
 * The storage ceiling: rows of the same shape the worker stores, COPY'd into the partitioned
 * analytics_events_raw of a freshly migrated database, in chunks of `chunk` rows (one COPY
 * statement each) over `streams` connections. Rows are serialized before the clock starts, so the
 * figure is Postgres's, not Node's. Counted afterwards with count(*).
 */
export async function copyCeiling(url: string, rows: number, chunk: number, streams: number): Promise<CopyCeiling> {
  const pool = new Pool({ connectionString: url, max: streams + 1 });
  try {
    const today = new Date();
    for (const d of [today, new Date(today.getTime() + 86_400_000)]) {
      await pool.query('SELECT analytics_ensure_raw_partition($1::date)', [d.toISOString().slice(0, 10)]);
    }
    const tenant = randomUUID();
    const site = randomUUID();
    const built = performance.now();
    const chunks: Buffer[] = [];
    for (let done = 0; done < rows; done += chunk) {
      const lines: string[] = [];
      const received = new Date().toISOString();
      for (let i = 0; i < Math.min(chunk, rows - done); i++) {
        const e: Record<string, unknown> = { ...loadEvent(tenant, site), received_at: received, payload: null };
        lines.push(rawCopyLine(e));
      }
      chunks.push(Buffer.from(lines.join('')));
    }
    const buildSeconds = (performance.now() - built) / 1000;
    const sql = `COPY analytics_events_raw (${RAW_COLUMNS.join(', ')}) FROM STDIN`;
    let next = 0;
    const started = performance.now();
    const cpu0 = cpuSnapshot({});
    await Promise.all(
      Array.from({ length: streams }, async () => {
        const client = await pool.connect();
        try {
          while (next < chunks.length) {
            const buf = chunks[next++];
            await pipeline(Readable.from([buf]), client.query(copyFrom(sql)));
          }
        } finally {
          client.release();
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuShares(cpu0, cpuSnapshot({}));
    const counted = Number(
      (await pool.query('SELECT count(*) AS n FROM analytics_events_raw WHERE tenant_id = $1', [tenant])).rows[0].n,
    );
    return {
      rows,
      counted,
      chunk_rows: chunk,
      streams,
      seconds,
      rows_per_s: counted / seconds,
      build_seconds: buildSeconds,
      cpu,
    };
  } finally {
    await pool.end();
  }
}
