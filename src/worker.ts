import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createWorkerContext, startRole } from './app/bootstrap';

void startRole('worker', async (config) => {
  const ctx = await createWorkerContext(config);
  new Logger('Worker').log(`Consuming queues with concurrency ${config.worker.concurrency}`);
  return ctx;
});
