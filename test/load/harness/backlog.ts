import { Queue } from 'bullmq';
import { mean, round } from './stats';

export interface BacklogSample {
  t: number;
  jobs: number;
}

export interface BacklogSummary {
  samples_during_load: number;
  min: number;
  max: number;
  last: number;
  /** the highest sample between the end of the load and the drained queue */
  max_after_load: number;
  first_third_mean: number;
  last_third_mean: number;
  /** growing: the last third of the load averaged clearly more jobs than the first third. */
  trend: 'flat' | 'growing' | 'shrinking';
  /** seconds since the start of the load, jobs (waiting + active + delayed) */
  series: [number, number][];
}

/** Jobs of the ingest queue not yet done: waiting + active + delayed. */
export async function backlogNow(queue: Queue): Promise<number> {
  const c = await queue.getJobCounts('waiting', 'active', 'delayed');
  return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0);
}

/** Samples the backlog every 500 ms from the start of a scenario's load until stopped. */
export class BacklogSampler {
  readonly samples: BacklogSample[] = [];
  latest = 0;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private readonly t0 = performance.now();

  constructor(private readonly queue: Queue) {}

  start(): this {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), 500);
    return this;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      this.latest = await backlogNow(this.queue);
      this.samples.push({ t: (performance.now() - this.t0) / 1000, jobs: this.latest });
    } catch {
      /* a missed sample; the next one comes in 500 ms */
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Min, max, last and trend over the load (the first `loadSeconds`); the series runs on until drained. */
  summary(loadSeconds: number): BacklogSummary {
    const all = this.samples.map((s) => s.jobs);
    const during = this.samples.filter((s) => s.t <= loadSeconds).map((s) => s.jobs);
    const third = Math.max(1, Math.floor(during.length / 3));
    const first = mean(during.slice(0, third));
    const last = mean(during.slice(-third));
    // A backlog of a few jobs comes and goes with every poll of the workers: only a rise of more
    // than 5 jobs and more than half the starting level counts as growth.
    const margin = Math.max(5, 0.5 * (Number.isFinite(first) ? first : 0));
    const trend = last - first > margin ? 'growing' : first - last > margin ? 'shrinking' : 'flat';
    return {
      samples_during_load: during.length,
      min: during.length ? Math.min(...during) : NaN,
      max: during.length ? Math.max(...during) : NaN,
      last: during.length ? during[during.length - 1] : NaN,
      max_after_load: all.length ? Math.max(...all.slice(during.length), 0) : NaN,
      first_third_mean: round(first, 1),
      last_third_mean: round(last, 1),
      trend,
      series: this.samples.map((s) => [round(s.t, 2), s.jobs]),
    };
  }
}
