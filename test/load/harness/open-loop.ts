import http from 'node:http';
import { LoadRun } from './closed-loop';
import { RequestSource } from './traffic';

export interface OpenLoopRun extends LoadRun {
  offered_rate: number;
  scheduled: number;
  /** how late the generator issued requests after their intended send time, ms (its own lag) */
  send_lag_p99_ms: number;
  /** seconds from the last scheduled send until the last answer */
  tail_seconds: number;
}

/**
 * Open loop: requests are issued on a fixed schedule, `rate` per second for `seconds`, whether or
 * not earlier ones were answered (keep-alive agent with up to `sockets` sockets; requests beyond
 * them wait in the agent's queue). Each latency is measured from the request's *intended* send
 * time, so a slow answer delays no later measurement (no coordinated omission): a queue in the
 * service shows up as latency.
 */
export function openLoop(opts: {
  port: number;
  path: string;
  rate: number;
  seconds: number;
  sockets: number;
  headers: Record<string, string>;
  source: RequestSource;
  /** how long to wait for answers after the last send, ms */
  graceMs?: number;
}): { done: Promise<OpenLoopRun>; sent: () => number } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.sockets, maxFreeSockets: opts.sockets, timeout: 4000 });
  const interval = 1000 / opts.rate;
  const total = Math.max(1, Math.round(opts.rate * opts.seconds));
  const latencies: number[] = [];
  const lags: number[] = [];
  let sent = 0;
  let outstanding = 0;
  let errors = 0;
  let timeouts = 0;
  let allAnswered: (() => void) | null = null;
  const settle = () => {
    outstanding--;
    if (outstanding === 0 && sent === total && allAnswered) allAnswered();
  };

  const fire = (intended: number) => {
    lags.push(performance.now() - intended);
    const { body, token } = opts.source.next();
    const payload = Buffer.from(body);
    sent++;
    outstanding++;
    let finished = false;
    const req = http.request({
      agent, host: '127.0.0.1', port: opts.port, path: opts.path, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': payload.length, ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (finished) return;
        finished = true;
        latencies.push(performance.now() - intended);
        opts.source.answer(token, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
        settle();
      });
    });
    let timedOut = false;
    req.setTimeout(30_000, () => {
      timedOut = true;
      req.destroy(new Error('timeout'));
    });
    req.on('error', () => {
      if (finished) return;
      finished = true;
      if (timedOut) timeouts++;
      else errors++;
      opts.source.abandon(token);
      settle();
    });
    req.end(payload);
  };

  const t0 = performance.now();
  const schedule = new Promise<number>((resolve) => {
    let i = 0;
    const tick = () => {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) fire(t0 + i++ * interval);
      if (i >= total) return resolve(performance.now());
      setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
    };
    tick();
  });

  const done = schedule.then(async (scheduleEnd) => {
    const answered = new Promise<void>((resolve) => {
      allAnswered = resolve;
      if (outstanding === 0) resolve();
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([answered, new Promise<void>((r) => { timer = setTimeout(r, opts.graceMs ?? 120_000); })]);
    clearTimeout(timer);
    const end = performance.now();
    agent.destroy();
    const sortedLags = Float64Array.from(lags).sort();
    return {
      seconds: (scheduleEnd - t0) / 1000,
      answered: latencies.length,
      errors,
      timeouts,
      latencies,
      offered_rate: opts.rate,
      scheduled: total,
      send_lag_p99_ms: sortedLags.length ? Math.round(sortedLags[Math.min(sortedLags.length - 1, Math.ceil(0.99 * sortedLags.length) - 1)] * 10) / 10 : NaN,
      tail_seconds: (end - scheduleEnd) / 1000,
    };
  });
  return { done, sent: () => sent };
}
