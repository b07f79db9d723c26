import { INestApplicationContext, Logger } from '@nestjs/common';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * A role's orderly stop on SIGTERM (and SIGINT, SIGHUP), in this order:
 *
 * - the role's own work first (passed in by its entry point, so neither role loads the other's code):
 * - api: stop accepting connections and answer every request it has (HttpDrain, bounded by
 *   ANALYTICS_SHUTDOWN_GRACE_MS); single events waiting to be grouped are sent with their
 *   requests' answers;
 * - worker: take no new job and let the active ones finish (JobDispatcher.stop, same bound);
 * - then close the application: Nest's onModuleDestroy, beforeApplicationShutdown and
 *   onApplicationShutdown hooks, which close the rollup fold, the queues, Redis and, last, the
 *   Postgres pool, when nothing uses them any more;
 * - exit 0 (1 if closing failed).
 *
 * Nest's own enableShutdownHooks would run the same hooks but close the pool under requests still
 * in flight, and end the process by re-raising the signal; this replaces it. A second signal
 * while stopping is ignored.
 */
export function stopOnSignals(
  role: 'api' | 'worker',
  app: INestApplicationContext,
  logger: Logger,
  stopWork: (app: INestApplicationContext) => Promise<void>,
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} received again: already shutting down`);
      return;
    }
    stopping = true;
    logger.log(`${signal} received: shutting down`);
    shutDown(app, stopWork).then(
      () => {
        logger.log('Shut down');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`${role}: shutdown failed: ${(err as Error)?.stack ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

async function shutDown(
  app: INestApplicationContext,
  stopWork: (app: INestApplicationContext) => Promise<void>,
): Promise<void> {
  await stopWork(app);
  await app.close();
}
