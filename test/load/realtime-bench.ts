/**
 * npm run bench:realtime — WebSocket ingestion and the live stream against a freshly started api
 * and worker (child processes, real Postgres and Redis). Prints, from one run:
 *
 * 1. events/s through 50 WebSockets sending messages of BENCH_BATCH events, against 50 HTTP
 *    keep-alive connections posting batches of the same size (closed loop, BENCH_SECONDS each);
 * 2. send → verdict latency (median, p95) of single events over WebSockets at a moderate rate
 *    (BENCH_RATE messages/s, open loop);
 * 3. freshness: verdict → the live stream message carrying the event (median, p95), for probe
 *    events of their own tenant sent one at a time while the moderate load runs.
 *
 *   BENCH_SECONDS=8 BENCH_BATCH=20 BENCH_RATE=400 npm run bench:realtime
 */
import { Agent, request as httpRequest } from 'node:http';
import { makeEvent } from '../support/events';
import globalSetup from '../support/global-setup';
import globalTeardown from '../support/global-teardown';
import { seedTenant } from '../support/tenants';
import { createTestEnv } from '../support/test-env';
import { runRole, startApiProcess } from '../support/worker-process';
import { IngestSocket } from '../support/ws-client';
import { SseClient } from '../support/sse-client';
import { percentile, round } from './harness/stats';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const BATCH = Number(process.env.BENCH_BATCH ?? 20);
const SOCKETS = 50;
const RATE = Number(process.env.BENCH_RATE ?? 400);

const log = (line: string) => process.stdout.write(`${line}\n`);
const ms = (x: number) => `${round(x, 1)} ms`;

function stats(samples: number[]): { median: number; p95: number; n: number } {
  const s = Float64Array.from(samples).sort();
  return { median: percentile(s, 0.5), p95: percentile(s, 0.95), n: s.length };
}

async function main(): Promise<void> {
  await globalSetup();
  const t = await createTestEnv(
    {
      ANALYTICS_RATE_LIMIT_RPS: '10000000',
      ANALYTICS_RATE_LIMIT_EPS: '100000000',
      LOG_LEVEL: 'warn',
      ANALYTICS_REQUEST_LOGS: 'false',
    },
    { api: false, worker: false },
  );
  const worker = runRole('worker.js', t.env);
  const api = await startApiProcess(t.env);
  const tenant = t.tenant;
  const events = (n: number) => Array.from({ length: n }, () => makeEvent());
  try {
    // 1. Throughput, closed loop: WebSocket messages of BATCH events against HTTP batches of BATCH.
    log(`1. closed loop, ${SOCKETS} connections, ${BATCH} events per message, ${SECONDS} s each`);
    const sockets = await Promise.all(
      Array.from({ length: SOCKETS }, () => IngestSocket.open(api.base, { key: tenant.ingest })),
    );
    const wsRun = async (): Promise<number> => {
      const end = Date.now() + SECONDS * 1000;
      let accepted = 0;
      await Promise.all(
        sockets.map(async (ws, i) => {
          let seq = 0;
          while (Date.now() < end) {
            const s = `${i}-${seq++}`;
            ws.send({ seq: s, events: events(BATCH) });
            const a = await ws.answer(s, 60000);
            accepted += a.accepted ?? 0;
            ws.answers.delete(s);
          }
        }),
      );
      return accepted / SECONDS;
    };
    const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          `${api.base}/api/v1/analytics/events/batch`,
          {
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.ingest}` },
          },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString('utf8')));
            res.on('end', () =>
              resolve(res.statusCode === 202 ? (JSON.parse(text) as { accepted: number }).accepted : 0),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const httpRun = async (): Promise<number> => {
      const end = Date.now() + SECONDS * 1000;
      let accepted = 0;
      await Promise.all(
        Array.from({ length: SOCKETS }, async () => {
          while (Date.now() < end) accepted += await post(JSON.stringify({ events: events(BATCH) }));
        }),
      );
      return accepted / SECONDS;
    };
    const settle = async () => {
      for (let i = 0; i < 600; i++) {
        const c = await t.ingestQueue.getJobCounts('waiting', 'active');
        if (c.waiting + c.active === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const rounds: { ws: number; http: number }[] = [];
    for (let r = 0; r < 2; r++) {
      const http = await httpRun();
      await settle();
      const ws = await wsRun();
      await settle();
      rounds.push({ ws, http });
      log(
        `   round ${r + 1}: WebSocket ${round(ws)} events/s, HTTP batches ${round(http)} events/s, ratio ${round(ws / http, 2)}`,
      );
    }
    await Promise.all(sockets.map((s) => s.close()));

    // 2 and 3. Moderate rate: single events over 10 sockets, open loop; probes on their own tenant measure freshness.
    log(`2. open loop, single events at ${RATE} messages/s over 10 WebSockets, ${SECONDS} s`);
    const probeTenant = await seedTenant(t.db, '3a1d2c4b-5e6f-4a7b-8c9d-0e1f2a3b4c5d', { rps: 100000, eps: 1000000 });
    const load = await Promise.all(
      Array.from({ length: 10 }, () => IngestSocket.open(api.base, { key: tenant.ingest })),
    );
    const latencies: number[] = [];
    let sent = 0;
    const started = Date.now();
    const end = started + SECONDS * 1000;
    const pending: Promise<void>[] = [];
    const ticker = new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.floor(((Date.now() - started) / 1000) * RATE);
        while (sent < due && Date.now() < end) {
          const ws = load[sent % load.length];
          const seq = sent++;
          const at = performance.now();
          ws.send({ seq, event: makeEvent() });
          pending.push(ws.answer(seq, 60000).then(() => void latencies.push(performance.now() - at)));
        }
        if (Date.now() < end) setTimeout(tick, 2);
        else resolve();
      };
      tick();
    });
    const token = (await (
      await fetch(`${api.base}/api/v1/analytics/reports/live/token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${probeTenant.report}` },
      })
    ).json()) as { token: string };
    const stream = await SseClient.open(`${api.base}/api/v1/analytics/reports/live?token=${token.token}`);
    const probeWs = await IngestSocket.open(api.base, { key: probeTenant.ingest });
    const freshness: number[] = [];
    let probes = 0;
    while (Date.now() < end - 500) {
      const before = stream.foldedEvents();
      probeWs.send({ seq: probes, event: makeEvent({ tenant_id: probeTenant.id }) });
      await probeWs.answer(probes++);
      const verdictAt = performance.now();
      while (stream.foldedEvents() === before) await new Promise((r) => setTimeout(r, 1));
      freshness.push(performance.now() - verdictAt);
    }
    await ticker;
    await Promise.all(pending);
    const l = stats(latencies);
    log(`   ${l.n} messages (${round(l.n / SECONDS)} /s): send → verdict median ${ms(l.median)}, p95 ${ms(l.p95)}`);
    const f = stats(freshness);
    log(`3. freshness, ${f.n} probe events: verdict → live stream message median ${ms(f.median)}, p95 ${ms(f.p95)}`);
    stream.close();
    await probeWs.close();
    await Promise.all(load.map((s) => s.close()));
    const wsMed = rounds.map((r) => r.ws).sort((a, b) => a - b)[0];
    log(
      `summary: WebSocket ${round(Math.max(...rounds.map((r) => r.ws)))} events/s (best of 2), HTTP ${round(Math.max(...rounds.map((r) => r.http)))} events/s; lowest WebSocket round ${round(wsMed)}`,
    );
  } finally {
    api.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    await Promise.all([api.exited, worker.exited]);
    await t.close();
    await globalTeardown();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
