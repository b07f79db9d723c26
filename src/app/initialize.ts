import { INestApplicationContext, Logger } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { prepareDatabase } from '../database/database-preparation';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { AnalyticsOptions, configFromOptions } from '../modules/config/analytics-options';
import { JobDispatcher } from '../modules/jobs/job-dispatcher.service';
import { createApiApp } from './bootstrap';
import { HttpDrain } from './http-drain';
import { checkDependencies } from './preflight';
import { createWorkerContext } from './worker-context';

/** A running service started in this process: its api (listening) and its worker. */
export interface AnalyticsService {
  config: AnalyticsConfig;
  api: NestExpressApplication;
  worker: INestApplicationContext;
  /** The api's address, e.g. http://127.0.0.1:3000 */
  url: string;
  /** Drains the api's requests and the worker's jobs, then closes both. */
  close(): Promise<void>;
}

/**
 * The brief's `initializeAnalytics(options)`: the service started in this process (api and
 * worker), configured by the options over the environment. The same checks as `npm start` run
 * first: every option and variable valid, Postgres and Redis reachable, the database migrated
 * when ANALYTICS_AUTO_MIGRATE allows.
 */
export async function initializeAnalytics(
  options: AnalyticsOptions = {},
  env: Record<string, string | undefined> = process.env,
): Promise<AnalyticsService> {
  const config = configFromOptions(options, env);
  const logger = new Logger('Analytics');
  await checkDependencies(config, (line) => logger.warn(line));
  await prepareDatabase(config, (line) => logger.log(line));
  const api = await createApiApp(config);
  const worker = await createWorkerContext(config);
  await api.listen(config.http.port, config.http.host);
  const address = api.getHttpServer().address() as { port: number };
  return {
    config,
    api,
    worker,
    url: `http://${config.http.host}:${address.port}`,
    async close() {
      await api.get(HttpDrain).drain();
      await api.close();
      await worker.get(JobDispatcher).stop();
      await worker.close();
    },
  };
}
