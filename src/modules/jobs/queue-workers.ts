import { Logger } from '@nestjs/common';
import { Job, Worker, UnrecoverableError } from 'bullmq';
import { AnalyticsConfig } from '../config/analytics-config';
import { JobName, JobPayloads, JobQueue, QueueName } from '../contracts/jobs';
import { queuePrefix, redisOptions } from '../../common/redis.provider';

export type JobHandlers<Q extends QueueName> = {
  [N in JobName as (typeof JobQueue)[N] extends Q ? N : never]: (data: JobPayloads[N], job: Job) => Promise<unknown>;
};

/**
 * Starts a BullMQ worker for one queue with handlers for each of its job names. Worker options
 * (concurrency, lock duration) come from config, which the @Processor decorator cannot read.
 */
export function startWorker<Q extends QueueName>(
  queue: Q,
  handlers: JobHandlers<Q>,
  config: AnalyticsConfig,
  opts: { concurrency: number },
): Worker {
  const logger = new Logger(`Worker:${queue}`);
  const table = handlers as Record<string, (data: unknown, job: Job) => Promise<unknown>>;
  const missing = (Object.keys(JobQueue) as JobName[]).filter((n) => JobQueue[n] === queue && !table[n]);
  if (missing.length) throw new Error(`No handler for job(s) ${missing.join(', ')} on queue ${queue}`);

  const worker = new Worker(
    queue,
    async (job: Job) => {
      const handler = table[job.name];
      if (!handler) throw new UnrecoverableError(`Unknown job name "${job.name}" on queue ${queue}`);
      return handler(job.data, job);
    },
    {
      connection: redisOptions(config, false),
      prefix: queuePrefix(config),
      concurrency: opts.concurrency,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.lockDurationMs,
      maxStalledCount: 3,
      autorun: false,
    },
  );
  worker.on('failed', (job, err) => {
    const final = job && job.attemptsMade >= (job.opts.attempts ?? 1);
    logger.warn(
      `Job ${job?.name}#${job?.id} failed (attempt ${job?.attemptsMade}${final ? ', giving up' : ''}): ${err.message}`,
    );
  });
  worker.on('error', (err) => logger.error(`Worker error: ${err.message}`));
  return worker;
}

/**
 * Closes a worker and ends its stalled-job checker. When close() arrives while the checker awaits
 * Redis, BullMQ arms the checker's next sleep (a whole stalledInterval) after close() has returned,
 * keeping the process alive that long; the stopper is called until the checker has left its loop.
 */
export async function closeWorker(worker: Worker): Promise<void> {
  await worker.close();
  const w = worker as unknown as { stalledCheckStopper?: () => void; stalledCheckerRunning?: boolean };
  for (let i = 0; i < 100 && w.stalledCheckerRunning; i++) {
    w.stalledCheckStopper?.();
    await new Promise((r) => setTimeout(r, 10));
  }
}
