import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { assessEvent, assessmentRules, eventChecks } from '../../../src/modules/ingestion/event-assessment';
import { AnalyticsConfig } from '../../../src/modules/config/analytics-config';
import { EnvelopeValidator } from '../../../src/modules/schema-registry/envelope-validator';
import { EventValidator } from '../../../src/modules/schema-registry/event-validator';
import { TenantSchemaSet } from '../../../src/modules/schema-registry/tenant-schema-set';
import { cpuShares, cpuSnapshot } from './proc-cpu';
import { loadEvent, requestBody } from './traffic';

/**
 * The least CPU every stored event costs on this machine, whatever the pipeline: parsing and
 * validating it, and writing its two rows (the raw row, at the COPY baseline's cost, and its
 * dedupe-ledger row). Each part is measured here, in the same run as the figures it bounds; the
 * bytes' arrival over HTTP is taken from the bare node:http baseline of batches.
 */
export interface WorkFloor {
  /** JSON.parse of batch bodies and the service's own assessment (structure, envelope, schema, time window), per event, one core */
  parse_validate_us: number;
  /** ledger rows inserted with ON CONFLICT DO NOTHING in statements of `chunk` rows on `streams` connections: Postgres CPU per row */
  ledger_row_us: number;
  ledger_rows_per_s: number;
}

/** JSON.parse + assessEvent of `events` load events in batch bodies of `batch`, CPU µs per event (this process). */
export function parseValidateCost(events: number, batch: number): number {
  const checks = eventChecks(new EventValidator(new EnvelopeValidator()), TenantSchemaSet.empty());
  const rules = assessmentRules(AnalyticsConfig.fromEnvironment({}));
  const tenant = randomUUID();
  const site = randomUUID();
  const bodies = Array.from({ length: Math.ceil(events / batch) }, () =>
    requestBody(
      Array.from({ length: batch }, () => loadEvent(tenant, site)),
      batch,
    ),
  );
  const run = () => {
    const now = new Date();
    let ok = 0;
    for (const body of bodies) {
      for (const e of (JSON.parse(body) as { events: unknown[] }).events)
        if (assessEvent(e, checks, rules, now).ok) ok++;
    }
    if (ok !== bodies.length * batch)
      throw new Error(`work floor: ${bodies.length * batch - ok} load events failed validation`);
  };
  run(); // warm up: compiled validators, optimized code
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (bodies.length * batch);
}

/** Ledger rows of fresh events, as the worker's statement writes them, into a freshly migrated database. */
export async function ledgerCost(
  url: string,
  rows: number,
  chunk: number,
  streams: number,
): Promise<{ row_us: number; rows_per_s: number }> {
  const pool = new Pool({ connectionString: url, max: streams });
  try {
    const tenant = randomUUID();
    const at = new Date().toISOString();
    const chunks: { ids: string[] }[] = [];
    for (let done = 0; done < rows; done += chunk)
      chunks.push({ ids: Array.from({ length: Math.min(chunk, rows - done) }, () => randomUUID()) });
    const sql = `INSERT INTO analytics_dedupe_ledger (tenant_id, event_id, occurred_at)
      SELECT $1::uuid, id, $2::timestamptz FROM unnest($3::uuid[]) AS id ORDER BY 1, 2 ON CONFLICT DO NOTHING`;
    let next = 0;
    const cpu0 = cpuSnapshot({});
    await Promise.all(
      Array.from({ length: streams }, async () => {
        while (next < chunks.length) await pool.query(sql, [tenant, at, chunks[next++].ids]);
      }),
    );
    const cpu1 = cpuSnapshot({});
    const seconds = (cpu1.at - cpu0.at) / 1000;
    const counted = Number(
      (await pool.query('SELECT count(*) AS n FROM analytics_dedupe_ledger WHERE tenant_id = $1', [tenant])).rows[0].n,
    );
    if (counted !== rows) throw new Error(`work floor: ${rows} ledger rows sent, ${counted} counted`);
    return { row_us: (cpuShares(cpu0, cpu1).postgres * seconds * 1e6) / rows, rows_per_s: rows / seconds };
  } finally {
    await pool.end();
  }
}
