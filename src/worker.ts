import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { Logger } from '@nestjs/common';
import { startRole } from './app/start-role';
import { createWorkerContext } from './app/worker-context';
import { JobDispatcher } from './modules/jobs/job-dispatcher.service';
import { reportReady } from './launcher';
import { flushRoleLogs } from './app/telemetry';

void startRole(
  'worker',
  async (config) => {
    const logger = new Logger('Worker');
    yieldCpu(config.worker.nice, logger);
    const ctx = await createWorkerContext(config);
    logger.log(`Consuming queues with concurrency ${config.worker.concurrency}`);
    await flushRoleLogs('worker');
    reportReady({ role: 'worker' });
    return ctx;
  },
  (ctx) => ctx.get(JobDispatcher).stop(),
);

/**
 * Lowers the worker's CPU priority to `nice` (never raises it; 0, the default, changes nothing):
 * where the worker shares a machine with the api, the api answers first and the worker's work,
 * which the queue holds, waits. Linux keeps a priority per thread, so each thread is set.
 */
function yieldCpu(nice: number, logger: Logger): void {
  if (nice <= os.getPriority()) return;
  let threads: number[] = [0];
  try {
    threads = readdirSync('/proc/self/task').map(Number);
  } catch {
    /* not Linux: the calling thread only */
  }
  try {
    for (const tid of threads) os.setPriority(tid, nice);
    logger.log(
      `Running at CPU priority ${nice} (nice, ANALYTICS_WORKER_NICE): the api answers first on a shared machine`,
    );
  } catch (err) {
    logger.warn(`Could not lower the CPU priority to ${nice} (ANALYTICS_WORKER_NICE): ${(err as Error).message}`);
  }
}
