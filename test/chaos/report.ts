import { FaultRecord } from './faults';
import { Role } from './roles';
import { ROLLUP_METRIC, Verification } from './verify';

export interface RunFacts {
  startedAt: Date;
  seconds: number;
  short: boolean;
  senders: number;
  requests: number;
  attempts: number;
  drain: { drained: boolean; ms: number; left: string };
  failedJobs: number;
  statuses: Map<string, number>;
  faults: { record: FaultRecord; loadStart: number; firstAckMs: number | null; lost: number }[];
  roles: Role[];
  /** burst kills left out because their time had passed */
  skippedKills: number;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`);

/** The run's verdict: acknowledged means stored, once; nothing refused stored. */
export function passed(v: Verification): boolean {
  return v.lost.length === 0 && v.storedTwice.length === 0 && v.storedRefused.length === 0;
}

/** The result as markdown tables (printed, and written to results/). */
export function renderReport(v: Verification, f: RunFacts): string {
  const out: string[] = [];
  const rollupOk = v.rollups.mismatched.length === 0;
  out.push(
    `# Chaos run ${f.startedAt.toISOString()}`,
    '',
    `${f.short ? 'Short' : 'Long'} run: ${f.seconds} s of load, ${f.senders} at-least-once senders over 2 api and 2 worker processes, ` +
      `own Redis (AOF, appendfsync always, noeviction) and own Postgres cluster; ${f.faults.length} faults dealt${f.skippedKills ? ` (${f.skippedKills} burst kills left out, their time passed)` : ''}. ` +
      `Result: **${passed(v) ? 'PASS' : 'FAIL'}**.`,
    '',
    '| | count |',
    '|---|---:|',
    `| requests (attempts, with retries) | ${fmt(f.requests)} (${fmt(f.attempts)}) |`,
    `| events sent | ${fmt(v.sent)} |`,
    `| events acknowledged (accepted + duplicate) | ${fmt(v.acknowledged)} (${fmt(v.accepted)} + ${fmt(v.duplicate)}) |`,
    `| events refused (rejected, dropped, other) | ${fmt(v.refused)} |`,
    `| events without a final verdict when the run gave up | ${fmt(v.unresolved)} (${fmt(v.unresolvedStored)} of them stored) |`,
    `| stored (rows in analytics_events_raw / distinct event ids) | ${fmt(v.rows)} / ${fmt(v.distinct)} |`,
    `| **lost** (acknowledged, not stored) | **${fmt(v.lost.length)}** |`,
    `| **stored twice** | **${fmt(v.storedTwice.length)}** |`,
    `| **stored but refused** (final verdict rejected/dropped, stored) | **${fmt(v.storedRefused.length)}** |`,
    `| stored, never sent | ${fmt(v.storedNeverSent)} |`,
    `| ledger entries without a stored row | ${fmt(v.ledgerWithoutRow)} |`,
    `| unexpected verdicts | ${v.unexpectedVerdicts.size ? [...v.unexpectedVerdicts].map(([k, n]) => `${k}: ${fmt(n)}`).join('; ') : '0'} |`,
    `| failed jobs left in the queue | ${fmt(f.failedJobs)} |`,
    `| drain after the load | ${f.drain.drained ? `drained in ${secs(f.drain.ms)}` : `NOT drained after ${secs(f.drain.ms)} (${f.drain.left})`} |`,
    `| rollups ${ROLLUP_METRIC.metric}, level ${ROLLUP_METRIC.level}: sum of counts vs count(*) of raw rows | ${fmt(v.rollups.rollupSum)} vs ${fmt(v.rollups.rawCount)} over ${v.rollups.buckets} bucket(s): ${rollupOk ? 'equal' : `${v.rollups.mismatched.length} differ (${v.rollups.mismatched.slice(0, 3).join('; ')})`} |`,
    '',
  );
  if (v.lost.length) {
    out.push('Lost events, by final verdict and what came before it:', '', '| verdict | events |', '|---|---:|');
    for (const [k, n] of [...v.lostBy].sort((a, b) => b[1] - a[1])) out.push(`| ${k} | ${fmt(n)} |`);
    out.push('', `Examples: ${v.lost.slice(0, 5).join(', ')}`, '');
  }
  if (v.unresolved) {
    out.push('Events without a final verdict, by the last failure met:', '', '| last failure | events |', '|---|---:|');
    for (const [k, n] of [...v.unresolvedBy].sort((a, b) => b[1] - a[1]))
      out.push(`| ${k.replace(/\|/g, '/')} | ${fmt(n)} |`);
    out.push('');
  }
  if (v.storedTwice.length) out.push(`Stored twice, examples: ${v.storedTwice.slice(0, 5).join(', ')}`, '');
  if (v.storedRefused.length) out.push(`Stored but refused, examples: ${v.storedRefused.slice(0, 5).join(', ')}`, '');

  out.push(
    'Faults (t: seconds into the load; recovery: from the fault to the first acknowledged answer to a request sent after it; ' +
      'back: until the process or server hit was ready again; lost: lost events whose first failed attempt ended after this fault and before the next):',
    '',
    '| t | fault | target | recovery | back | lost | detail |',
    '|---:|---|---|---:|---:|---:|---|',
  );
  for (const { record: r, loadStart, firstAckMs, lost } of f.faults) {
    out.push(
      `| ${((r.at - loadStart) / 1000).toFixed(1)} s | ${r.kind} | ${r.target} | ${secs(firstAckMs)} | ${secs(r.backAt === null ? null : r.backAt - r.at)} | ${lost} | ${r.detail} |`,
    );
  }
  const attributed = f.faults.reduce((s, x) => s + x.lost, 0);
  if (v.lost.length > attributed) out.push('', `${v.lost.length - attributed} lost event(s) failed before any fault.`);
  out.push('', 'Statuses seen (every attempt):', '', '| status | answers |', '|---|---:|');
  for (const [s, n] of [...f.statuses].sort((a, b) => b[1] - a[1])) out.push(`| ${s} | ${fmt(n)} |`);
  out.push(
    '',
    'Processes:',
    '',
    '| process | starts | exits no fault asked for | starts that failed |',
    '|---|---:|---:|---:|',
  );
  for (const r of f.roles) out.push(`| ${r.name} | ${r.starts} | ${r.unexpectedExits} | ${r.failedStarts} |`);
  out.push('');
  return out.join('\n');
}
