import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { Worker } from 'bullmq';
import { AnalyticsConfig } from '../config/analytics-config';
import { JobName, JobQueue, QueueName } from '../contracts/jobs';
import { Telemetry } from '../observability/telemetry.service';
import { JOB_HANDLER, JobHandler } from './job-handler';
import { closeWorker, JobHandlers, startWorker } from './queue-workers';

type AnyHandler = JobHandler<JobName>;

/**
 * Finds each job's handler among the worker's providers, checks that every job has exactly one,
 * runs their start-up work, then consumes the ingest and maintenance queues.
 */
@Injectable()
export class JobDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private readonly workers: Worker[] = [];
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
  ) {}

  /** Every job name with its one handler; throws naming the jobs with none or with several. */
  handlers(): Map<JobName, AnyHandler> {
    const found = new Map<JobName, AnyHandler[]>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as AnyHandler | undefined;
      if (!instance || !wrapper.metatype || typeof wrapper.metatype !== 'function') continue;
      const name = this.reflector.get<JobName | undefined>(JOB_HANDLER, wrapper.metatype);
      if (!name) continue;
      found.set(name, [...(found.get(name) ?? []), instance]);
    }
    const names = Object.keys(JobQueue) as JobName[];
    const missing = names.filter((n) => !found.has(n));
    const doubled = names.filter((n) => (found.get(n)?.length ?? 0) > 1);
    if (missing.length) throw new Error(`No handler for job(s) ${missing.join(', ')}`);
    if (doubled.length) throw new Error(`More than one handler for job(s) ${doubled.join(', ')}`);
    return new Map(names.map((n) => [n, found.get(n)![0]]));
  }

  async onApplicationBootstrap(): Promise<void> {
    const handlers = this.handlers();
    for (const handler of handlers.values()) await handler.beforeWorkerStart?.();
    const forQueue = <Q extends QueueName>(queue: Q) =>
      Object.fromEntries(
        [...handlers]
          .filter(([name]) => JobQueue[name] === queue)
          .map(([name, h]) => [
            name,
            // Each job in a span continuing its request's trace, counted and logged once (Telemetry.runJob).
            (data: never, job: Parameters<AnyHandler['handle']>[1]) =>
              this.telemetry.runJob(queue, job, () => h.handle(data, job)),
          ]),
      ) as JobHandlers<Q>;
    this.workers.push(
      startWorker(QueueName.Ingest, forQueue(QueueName.Ingest), this.config, {
        concurrency: this.config.worker.concurrency,
      }),
      startWorker(QueueName.Maintenance, forQueue(QueueName.Maintenance), this.config, { concurrency: 1 }),
    );
    for (const w of this.workers) void w.run();
  }

  /**
   * Takes no new job and waits for the active ones to finish (BullMQ's Worker.close()), at most
   * ANALYTICS_SHUTDOWN_GRACE_MS; a job still running then is left to its lock, which expires, and
   * another worker takes it again (stalled). Once only; before the pool and Redis close.
   */
  stop(): Promise<void> {
    this.stopping ??= this.closeWorkers();
    return this.stopping;
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.stop();
  }

  private async closeWorkers(): Promise<void> {
    const graceMs = this.config.shutdown.graceMs;
    const active = this.workers.reduce((n, w) => n + activeJobs(w), 0);
    this.logger.log(
      `Taking no new jobs; waiting for ${active} active job(s), for at most ${graceMs} ms (ANALYTICS_SHUTDOWN_GRACE_MS)`,
    );
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all(this.workers.map(closeWorker)).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (finished) {
      this.logger.log('Active jobs finished; job workers closed');
      return;
    }
    const left = this.workers.reduce((n, w) => n + activeJobs(w), 0);
    this.logger.warn(
      `Grace of ${graceMs} ms (ANALYTICS_SHUTDOWN_GRACE_MS) over with ${left} job(s) still active: leaving them to be retried once their lock expires`,
    );
    // Worker.close(true) would return the close already waiting; its connections are dropped instead.
    await Promise.all(this.workers.map((w) => w.disconnect().catch(() => undefined)));
  }
}

/** Jobs a BullMQ worker is running now (those whose lock it renews), for the log. */
function activeJobs(worker: Worker): number {
  const locks = (worker as unknown as { lockManager?: { getActiveJobCount?: () => number } }).lockManager;
  return locks?.getActiveJobCount?.() ?? 0;
}
