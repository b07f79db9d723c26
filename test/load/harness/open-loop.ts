import net from 'node:net';
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
 * not earlier ones were answered (keep-alive connections, up to `sockets` of them; requests beyond
 * them wait for one to come free). Each latency is measured from the request's *intended* send
 * time, so a slow answer delays no later measurement (no coordinated omission): a queue in the
 * service shows up as latency.
 *
 * The client is a minimal HTTP/1.1 one on raw sockets (one request per connection at a time, the
 * request written as one buffer, answers read by Content-Length), like autocannon's: node's
 * http.request cost the generator about 280 µs of CPU per request, which on a shared two-core
 * machine the service lost, and delayed sends (its own lag) counted as the service's latency.
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
  /** sees the status line and headers of every answer */
  onHead?: (head: string) => void;
}): { done: Promise<OpenLoopRun>; sent: () => number } {
  const pool = new ConnectionPool(opts.port, opts.sockets, opts.onHead);
  const head =
    `POST ${opts.path} HTTP/1.1\r\nHost: 127.0.0.1:${opts.port}\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n` +
    Object.entries(opts.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
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
    pool.send(Buffer.concat([Buffer.from(`${head}Content-Length: ${payload.length}\r\n\r\n`), payload]), (outcome) => {
      if ('status' in outcome) {
        latencies.push(performance.now() - intended);
        opts.source.answer(token, outcome.status, outcome.body);
      } else {
        if (outcome.timedOut) timeouts++;
        else errors++;
        opts.source.abandon(token);
      }
      settle();
    });
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
    await Promise.race([
      answered,
      new Promise<void>((r) => {
        timer = setTimeout(r, opts.graceMs ?? 120_000);
      }),
    ]);
    clearTimeout(timer);
    const end = performance.now();
    pool.destroy();
    const sortedLags = Float64Array.from(lags).sort();
    return {
      seconds: (scheduleEnd - t0) / 1000,
      answered: latencies.length,
      errors,
      timeouts,
      latencies,
      offered_rate: opts.rate,
      scheduled: total,
      send_lag_p99_ms: sortedLags.length
        ? Math.round(sortedLags[Math.min(sortedLags.length - 1, Math.ceil(0.99 * sortedLags.length) - 1)] * 10) / 10
        : NaN,
      tail_seconds: (end - scheduleEnd) / 1000,
    };
  });
  return { done, sent: () => sent };
}

type Outcome = { status: number; body: string } | { failed: true; timedOut: boolean };
interface Pending {
  request: Buffer;
  done: (o: Outcome) => void;
  since: number;
}
const TIMEOUT_MS = 30_000;

/** Keep-alive connections to one port, each carrying one request at a time; requests queue for a free one. */
class ConnectionPool {
  private readonly idle: Connection[] = [];
  private readonly queue: Pending[] = [];
  private readonly all = new Set<Connection>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly port: number,
    private readonly max: number,
    private readonly onHead?: (head: string) => void,
  ) {
    // Requests that take longer than TIMEOUT_MS fail, and their connection with them.
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.all) if (c.current && now - c.current.since > TIMEOUT_MS) c.fail(true);
    }, 1000);
  }

  send(request: Buffer, done: (o: Outcome) => void): void {
    this.queue.push({ request, done, since: performance.now() });
    this.pump();
  }

  destroy(): void {
    clearInterval(this.sweeper);
    for (const c of this.all) c.socket.destroy();
  }

  private pump(): void {
    while (this.queue.length) {
      let c = this.idle.pop();
      if (!c) {
        if (this.all.size >= this.max) return;
        c = new Connection(
          this.port,
          (conn) => this.released(conn),
          (conn) => this.lost(conn),
          this.onHead,
        );
        this.all.add(c);
      }
      const p = this.queue.shift()!;
      p.since = performance.now();
      c.start(p);
    }
  }

  private released(c: Connection): void {
    this.idle.push(c);
    this.pump();
  }

  private lost(c: Connection): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.pump();
  }
}

/** One keep-alive connection; reads each answer by its Content-Length. */
class Connection {
  readonly socket: net.Socket;
  current: Pending | null = null;
  private buffer: Buffer = Buffer.alloc(0);

  constructor(
    port: number,
    private readonly onFree: (c: Connection) => void,
    private readonly onLost: (c: Connection) => void,
    private readonly onHead?: (head: string) => void,
  ) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.fail(false);
      this.onLost(this);
    });
  }

  start(p: Pending): void {
    this.current = p;
    this.socket.write(p.request);
  }

  fail(timedOut: boolean): void {
    const p = this.current;
    this.current = null;
    if (p) p.done({ failed: true, timedOut });
    if (timedOut) this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const headText = this.buffer.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(headText)?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    const status = Number(headText.slice(9, 12));
    this.onHead?.(headText);
    const body = this.buffer.toString('utf8', end + 4, end + 4 + length);
    this.buffer = this.buffer.subarray(end + 4 + length);
    const p = this.current;
    this.current = null;
    if (p) p.done({ status, body });
    if (/\r\nconnection:\s*close/i.test(headText)) this.socket.destroy();
    else this.onFree(this);
  }
}
