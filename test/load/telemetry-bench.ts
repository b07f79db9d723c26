/**
 * npm run bench:telemetry — the CPU a request's telemetry costs the api: request id, the request's
 * log line, the HTTP metrics (HttpTelemetry, as installed in front of both lanes) and the verdict
 * counters, measured in the server process itself (its CPU time per request, from
 * process.cpuUsage), with and without, interleaved over several rounds. The server answers each
 * request at once, so what differs between the two is the telemetry alone; CPU time per request is
 * far less sensitive to other work on the machine than throughput is.
 *
 *   BENCH_ROUNDS=5 BENCH_SECONDS=3 npm run bench:telemetry
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import autocannon from 'autocannon';
import pino from 'pino';
import { AnalyticsConfig } from '../../src/modules/config/analytics-config';
import { HttpTelemetry } from '../../src/modules/observability/http-telemetry';
import { tagIngestRoute } from '../../src/modules/observability/request-tags';
import { ServiceMetrics } from '../../src/modules/observability/service-metrics';
import type { Telemetry } from '../../src/modules/observability/telemetry.service';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const BODY = JSON.stringify({ index: 0, event_id: '123e4567-e89b-12d3-a456-426614174000', status: 'accepted' });
const TENANT = '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10';

/** The child: a node:http server answering 202 at once, with or without the request telemetry. */
function serve(withTelemetry: boolean): void {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      tagIngestRoute(req, '/api/v1/analytics/events', { tenantId: TENANT });
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
      res.end(BODY);
    });
  });
  let requests = 0;
  server.on('request', () => requests++);
  // Both servers load and build the same objects; only the installation differs.
  const config = AnalyticsConfig.fromEnvironment(process.env);
  const metrics = new ServiceMetrics('api', { tenantLabels: false });
  // The request's log line goes where production's goes: a pipe or file, here /dev/null, written by pino.
  const root = pino({ level: 'info', base: { role: 'api' } }, pino.destination({ dest: '/dev/null', sync: false }));
  const telemetry = { metrics, tracing: false } as unknown as Telemetry;
  const http = new HttpTelemetry(config, root, telemetry);
  if (withTelemetry) {
    http.install(server);
    const verdicts = metrics.ingestEvents.labels('accepted');
    server.on('request', () => verdicts.inc(1));
  }
  server.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as { port: number }).port });
  });
  let from = process.cpuUsage();
  let counted = 0;
  process.on('message', (m: string) => {
    if (m === 'start') {
      from = process.cpuUsage();
      counted = requests;
    } else if (m === 'stop') {
      const cpu = process.cpuUsage(from);
      process.send!({ cpuUs: cpu.user + cpu.system, requests: requests - counted });
    } else if (m === 'exit') process.exit(0);
  });
}

async function measure(withTelemetry: boolean): Promise<{ usPerRequest: number; rps: number }> {
  const child = fork(__filename, ['serve', withTelemetry ? 'on' : 'off'], { stdio: 'inherit' });
  const next = () => new Promise<any>((r) => child.once('message', r));
  const { port } = await next();
  const drive = (seconds: number) =>
    autocannon({
      url: `http://127.0.0.1:${port}/api/v1/analytics/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"event_id":"123e4567-e89b-12d3-a456-426614174000"}',
      connections: 50,
      duration: seconds,
    });
  await drive(1); // warm-up
  child.send('start');
  const result = await drive(SECONDS);
  child.send('stop');
  const { cpuUs, requests } = await next();
  child.send('exit');
  return { usPerRequest: cpuUs / requests, rps: result.requests.average };
}

async function main(): Promise<void> {
  const runs: Record<'off' | 'on', { usPerRequest: number; rps: number }[]> = { off: [], on: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of round % 2 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const r = await measure(mode === 'on');
      runs[mode].push(r);
      console.log(
        `round ${round}, telemetry ${mode}: ${r.usPerRequest.toFixed(1)} µs CPU per request, ${Math.round(r.rps)} req/s`,
      );
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const off = median(runs.off.map((r) => r.usPerRequest));
  const on = median(runs.on.map((r) => r.usPerRequest));
  console.log(
    `\nmedian of ${ROUNDS}: off ${off.toFixed(1)} µs, on ${on.toFixed(1)} µs per request: telemetry costs ${(on - off).toFixed(1)} µs of server CPU per request`,
  );
}

if (process.argv[2] === 'serve') serve(process.argv[3] === 'on');
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
