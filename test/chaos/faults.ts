import { PostgresCluster, RedisServer, sleep } from './infra';
import { Role } from './roles';

export type FaultKind =
  | 'api kill -9'
  | 'api SIGTERM'
  | 'worker kill -9'
  | 'worker SIGTERM'
  | 'redis SIGKILL + restart'
  | 'postgres restart -m immediate'
  | 'postgres stopped 20 s';

/** One planned fault, `at` seconds into the load. */
export interface PlannedFault {
  at: number;
  kind: FaultKind;
  /** one kill of a burst: left out when its time has passed */
  burst?: boolean;
}

/** A fault as it happened. */
export interface FaultRecord {
  kind: FaultKind;
  target: string;
  /** ms epoch when it was dealt */
  at: number;
  /** ms epoch when the process (or server) killed was back and ready; null if it never came back */
  backAt: number | null;
  detail: string;
}

/** api kills every 1–2 s (random) from `from` to `to` seconds. */
function apiKillBurst(from: number, to: number): PlannedFault[] {
  const out: PlannedFault[] = [];
  for (let t = from; t < to; t += 1 + Math.random())
    out.push({ at: Math.round(t * 10) / 10, kind: 'api kill -9', burst: true });
  return out;
}

/**
 * The schedule. Short (under 120 s of load; laid out for 45 s, scaled to the duration): api kill -9
 * ×7, worker kill -9, Redis SIGKILL + restart, Postgres immediate restart. Long (laid out for
 * 360 s, scaled): bursts of api kill -9 every 1–2 s, api SIGTERM, worker kill -9 and SIGTERM,
 * Redis SIGKILL twice, Postgres immediate restart twice and Postgres stopped for 20 s.
 */
export function schedule(seconds: number): PlannedFault[] {
  if (seconds < 120) {
    const k = seconds / 45;
    const plan: PlannedFault[] = [
      { at: 3, kind: 'api kill -9' },
      { at: 5, kind: 'api kill -9' },
      { at: 6.5, kind: 'api kill -9' },
      { at: 8.5, kind: 'api kill -9' },
      { at: 10, kind: 'api kill -9' },
      { at: 12, kind: 'api kill -9' },
      { at: 16, kind: 'worker kill -9' },
      { at: 22, kind: 'redis SIGKILL + restart' },
      { at: 30, kind: 'postgres restart -m immediate' },
      { at: 36, kind: 'api kill -9' },
    ];
    return plan.map((f) => ({ ...f, at: Math.round(f.at * k * 10) / 10 }));
  }
  const k = seconds / 360;
  const plan: PlannedFault[] = [
    ...apiKillBurst(5, 65),
    { at: 75, kind: 'api SIGTERM' },
    { at: 90, kind: 'worker kill -9' },
    { at: 110, kind: 'worker SIGTERM' },
    { at: 130, kind: 'redis SIGKILL + restart' },
    { at: 160, kind: 'postgres restart -m immediate' },
    { at: 185, kind: 'postgres stopped 20 s' },
    ...apiKillBurst(225, 255),
    { at: 270, kind: 'redis SIGKILL + restart' },
    { at: 295, kind: 'worker kill -9' },
    { at: 310, kind: 'postgres restart -m immediate' },
    ...apiKillBurst(325, 340),
  ];
  return plan.map((f) => ({ ...f, at: Math.round(f.at * k * 10) / 10 }));
}

export interface Stack {
  apis: Role[];
  workers: Role[];
  redis: RedisServer;
  pg: PostgresCluster;
  /** requests in flight to each api (by name) */
  inflight(api: string): number;
}

/**
 * Deals the faults at their times, one after the other (a fault that is still being dealt delays
 * the next), logging each with its time; processes killed are started again in the background.
 */
export class FaultInjector {
  readonly records: FaultRecord[] = [];
  private readonly pending: Promise<unknown>[] = [];
  private stopped = false;
  private turn = 0;
  private apiTurn = 0;
  /** api kills left out because their time had passed */
  skipped = 0;

  constructor(
    private readonly stack: Stack,
    private readonly log: (line: string) => void,
  ) {}

  stop(): void {
    this.stopped = true;
  }

  async run(plan: PlannedFault[], start: number, loadEnd: number): Promise<void> {
    for (const f of plan) {
      const due = start + f.at * 1000;
      while (!this.stopped && Date.now() < due) await sleep(Math.min(200, due - Date.now()));
      if (this.stopped || Date.now() > loadEnd - 1000) break;
      // A burst's kill whose time has passed while earlier faults were being dealt is left out:
      // the kills keep their spacing rather than piling up and pushing the rest of the schedule.
      if (f.burst && Date.now() > due + 1000) {
        this.skipped++;
        continue;
      }
      try {
        await this.deal(f.kind, start);
      } catch (err) {
        this.log(`fault ${f.kind} failed: ${(err as Error).message}`);
      }
    }
  }

  /** Resolves once every process killed is back (or could not be). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.pending);
  }

  private record(kind: FaultKind, target: string, at: number, detail: string, back: Promise<number> | number | null) {
    const rec: FaultRecord = { kind, target, at, backAt: null, detail };
    this.records.push(rec);
    if (typeof back === 'number') rec.backAt = back;
    else if (back)
      this.pending.push(
        back.then(
          (t) => {
            rec.backAt = t;
          },
          (err: Error) => {
            rec.detail += `; not back: ${err.message.split('\n')[0]}`;
          },
        ),
      );
    return rec;
  }

  /** An api to kill: both up if they come up within 3 s, then the one with more requests in flight. */
  private async pickApi(): Promise<Role> {
    const deadline = Date.now() + 3000;
    while (!this.stack.apis.every((a) => a.ready) && Date.now() < deadline && !this.stopped) await sleep(50);
    const ready = this.stack.apis.filter((a) => a.ready);
    const pool = ready.length ? ready : this.stack.apis;
    // Ties go to each api in turn, so that both are hit.
    const shift = this.apiTurn++ % pool.length;
    const turn = [...pool.slice(shift), ...pool.slice(0, shift)];
    return turn.reduce((best, a) => (this.stack.inflight(a.name) > this.stack.inflight(best.name) ? a : best));
  }

  private async deal(kind: FaultKind, start: number): Promise<void> {
    const { stack } = this;
    const t = (at: number) => `t=${((at - start) / 1000).toFixed(1)}s`;
    switch (kind) {
      case 'api kill -9':
      case 'api SIGTERM': {
        const api = await this.pickApi();
        if (this.stopped) return;
        const inflight = stack.inflight(api.name);
        const pid = api.pid;
        const at = Date.now();
        const { back } = kind === 'api kill -9' ? await api.kill9() : await api.term();
        this.record(kind, api.name, at, `pid ${pid}, ${inflight} request(s) in flight`, back);
        this.log(`${t(at)} ${kind} ${api.name} (pid ${pid}, ${inflight} request(s) in flight)`);
        return;
      }
      case 'worker kill -9':
      case 'worker SIGTERM': {
        const worker = stack.workers[this.turn++ % stack.workers.length];
        const pid = worker.pid;
        const at = Date.now();
        this.log(`${t(at)} ${kind} ${worker.name} (pid ${pid})`);
        const { back } = kind === 'worker kill -9' ? await worker.kill9() : await worker.term();
        this.record(kind, worker.name, at, `pid ${pid}`, back);
        return;
      }
      case 'redis SIGKILL + restart': {
        const at = Date.now();
        this.log(`${t(at)} ${kind}`);
        await stack.redis.kill();
        await sleep(1500);
        await stack.redis.start();
        this.record(kind, 'redis', at, 'down 1.5 s, restarted on its AOF', Date.now());
        this.log(`${t(Date.now())} redis back`);
        return;
      }
      case 'postgres restart -m immediate': {
        const at = Date.now();
        this.log(`${t(at)} ${kind}`);
        await stack.pg.restartImmediate();
        this.record(kind, 'postgres', at, 'crash recovery', Date.now());
        this.log(`${t(Date.now())} postgres back`);
        return;
      }
      case 'postgres stopped 20 s': {
        const at = Date.now();
        this.log(`${t(at)} ${kind}`);
        await stack.pg.stop('fast');
        await sleep(20_000);
        await stack.pg.start();
        this.record(kind, 'postgres', at, 'pg_ctl stop -m fast, start after 20 s', Date.now());
        this.log(`${t(Date.now())} postgres back`);
        return;
      }
    }
  }
}
