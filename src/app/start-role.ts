import { INestApplicationContext, Logger } from '@nestjs/common';
import { prepareDatabase } from '../database/database-preparation';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { ConfigError } from '../modules/config/environment';
import { PreflightError, checkDependencies } from './preflight';
import { stopOnSignals } from './shutdown';
import { useRoleLogger } from './telemetry';

/**
 * Shared start-up of both roles: validated config, reachable dependencies, prepared database.
 * Any failure ends the process with one line naming the variable or the address. Once started,
 * SIGTERM stops the role in order (see stopOnSignals).
 */
export async function startRole<T extends INestApplicationContext>(
  role: 'api' | 'worker',
  start: (config: AnalyticsConfig) => Promise<T>,
  stopWork: (app: T) => Promise<void>,
): Promise<T> {
  const logger = new Logger(role === 'api' ? 'Api' : 'Worker');
  try {
    const config = AnalyticsConfig.fromEnvironment(process.env);
    useRoleLogger(config, role);
    await checkDependencies(config, (line) => logger.warn(line));
    await prepareDatabase(config, (line) => logger.log(line));
    const app = await start(config);
    stopOnSignals(role, app, new Logger('Shutdown'), (a) => stopWork(a as T));
    return app;
  } catch (err) {
    const known = err instanceof ConfigError || err instanceof PreflightError;
    process.stderr.write(
      `${role}: ${known ? err.message : `start-up failed: ${(err as Error)?.stack ?? String(err)}`}\n`,
    );
    process.exit(1);
  }
}
