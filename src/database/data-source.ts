import { DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../migrations';

export function dataSourceOptions(url: string, extra: Partial<DataSourceOptions> = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [],
    migrations: MIGRATIONS,
    migrationsTableName: 'analytics_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    // pg pool: enough for the worker's concurrency plus health checks and maintenance.
    extra: { max: 12, connectionTimeoutMillis: 5000, application_name: 'analytics-service' },
    ...extra,
  } as DataSourceOptions;
}
