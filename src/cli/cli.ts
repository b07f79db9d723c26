import 'reflect-metadata';
import type { TenantListing, TenantsRepository } from '../modules/auth/tenants.repository';
import { ConfigError } from '../modules/config/environment';
import { Parsed, parseCommandLine, UsageError } from './cli-args';

/** A failure the user can act on (a tenant or key that does not exist): one line, exit code 1. */
class CliFailure extends Error {}

const TENANT_LIST_HINT = 'see npm run cli -- tenant:list';

async function main(argv: string[]): Promise<void> {
  // Every flag is checked before the database is touched.
  const cmd = parseCommandLine(argv);
  if (cmd.command === 'help') {
    console.log(cmd.text);
    return;
  }
  // Loaded only for a command that reaches the database: a mistake is answered without them.
  const [{ DataSource }, { dataSourceOptions }, { TenantsRepository }, { AnalyticsConfig }] = await Promise.all([
    import('typeorm'),
    import('../database/data-source'),
    import('../modules/auth/tenants.repository'),
    import('../modules/config/analytics-config'),
  ]);
  const config = AnalyticsConfig.fromEnvironment(process.env);
  const ds = new DataSource(
    dataSourceOptions(config.database.url, {
      extra: { max: 1, connectionTimeoutMillis: 5000, application_name: 'analytics-cli' },
    }),
  );
  try {
    await ds.initialize();
  } catch (err) {
    throw new CliFailure(describeDatabaseError(config.database.url, err));
  }
  try {
    if (cmd.command === 'schemas:import') return await importSchemas(cmd, ds, config, new TenantsRepository(ds));
    await run(cmd, new TenantsRepository(ds));
  } catch (err) {
    if (err instanceof CliFailure) throw err;
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '42703')
      throw new CliFailure(`${(err as Error).message}: the database is not migrated; run npm run migration:run`);
    throw err;
  } finally {
    await ds.destroy();
  }
}

async function run(cmd: Exclude<Parsed, { command: 'help' }>, repo: TenantsRepository): Promise<void> {
  const { TenantAdmin } = await import('../modules/auth/tenant-admin');
  const admin = new TenantAdmin(repo);
  const mustExist = async (tenantId: string) => {
    if (!(await repo.findTenant(tenantId))) throw new CliFailure(`no tenant ${tenantId}; ${TENANT_LIST_HINT}`);
  };
  switch (cmd.command) {
    case 'tenant:list': {
      const tenants = await repo.listTenants();
      if (cmd.json) console.log(JSON.stringify(tenants, null, 2));
      else console.log(tenantTable(tenants));
      break;
    }
    case 'tenant:create': {
      if (cmd.id && (await repo.findTenant(cmd.id))) throw new CliFailure(`a tenant ${cmd.id} already exists`);
      const { command: _, ...input } = cmd;
      const t = await admin.createTenant(input);
      console.log(JSON.stringify({ ...t, pseudonymSecret: undefined }, null, 2));
      break;
    }
    case 'tenant:update': {
      const t = await repo.updateTenant(cmd.tenantId, cmd.patch);
      if (!t) throw new CliFailure(`no tenant ${cmd.tenantId}; ${TENANT_LIST_HINT}`);
      console.log(JSON.stringify({ ...t, pseudonymSecret: undefined }, null, 2));
      break;
    }
    case 'key:create': {
      await mustExist(cmd.tenantId);
      const k = await admin.issueKey(cmd.tenantId, cmd.scopes, cmd.name);
      console.log(
        `key id:  ${k.id}\nscopes:  ${k.scopes.join(', ')}\ntenant:  ${k.tenantId}\nAPI key: ${k.key}\n(shown only now: store it in your secret manager)`,
      );
      break;
    }
    case 'key:list': {
      if (cmd.tenantId) await mustExist(cmd.tenantId);
      const rows = await repo.listKeys(cmd.tenantId);
      console.table(
        rows.map((r) => ({
          key_id: r.id,
          tenant: r.tenant_name,
          tenant_id: r.tenant_id,
          name: r.name,
          scopes: r.scopes.join(','),
          created: r.created_at.toISOString(),
          revoked: r.revoked_at?.toISOString() ?? '',
        })),
      );
      break;
    }
    case 'key:revoke': {
      if (!(await repo.revokeKey(cmd.keyId)))
        throw new CliFailure(`no active key ${cmd.keyId}; see npm run cli -- key:list`);
      console.log(`Revoked ${cmd.keyId}; every instance refuses it within a second.`);
      break;
    }
  }
}

/**
 * schemas:import: the registry's own publish (SchemasService) on this connection, announcing each
 * published name on Redis as a publish through the API does, so running instances enforce it.
 */
async function importSchemas(
  cmd: Extract<Parsed, { command: 'schemas:import' }>,
  ds: import('typeorm').DataSource,
  config: import('../modules/config/analytics-config').AnalyticsConfig,
  tenants: TenantsRepository,
): Promise<void> {
  if (!(await tenants.findTenant(cmd.tenantId))) throw new CliFailure(`no tenant ${cmd.tenantId}; ${TENANT_LIST_HINT}`);
  const { existsSync, statSync } = await import('node:fs');
  if (!existsSync(cmd.dir) || !statSync(cmd.dir).isDirectory()) throw new CliFailure(`${cmd.dir} is not a directory`);
  const [{ SchemasService }, { SchemaRepository }, { TenantSchemas }, { default: Redis }, { redisOptions }, imp] =
    await Promise.all([
      import('../modules/schema-registry/schemas.service'),
      import('../modules/schema-registry/schema.repository'),
      import('../modules/schema-registry/tenant-schemas.service'),
      import('ioredis'),
      import('../common/redis.provider'),
      import('./schema-import'),
    ]);
  const repo = new SchemaRepository(ds);
  const loader = new TenantSchemas(repo);
  const redis = new Redis({ ...redisOptions(config, true), lazyConnect: true });
  redis.on('error', () => undefined);
  const channel = `${config.redis.prefix}:schemas:changed`;
  const catalog = {
    fresh: (tenantId: string) => loader.load(tenantId),
    announce: async (tenantId: string, name: string) => {
      await redis.publish(channel, JSON.stringify({ tenant: tenantId, name })).catch((err: Error) => {
        console.error(
          `cli: could not announce ${name} on Redis (${err.message}); instances see it within their cache's lifetime`,
        );
      });
    },
  };
  try {
    const service = new SchemasService(repo, catalog as never, config);
    console.log(`Importing ${cmd.dir} for tenant ${cmd.tenantId}`);
    const summary = await imp.importIgluRepository(cmd.dir, cmd.tenantId, service, (line) => console.log(line));
    console.log(imp.describeImport(summary));
    if (summary.refused.length) process.exitCode = 1;
  } finally {
    redis.disconnect();
  }
}

function tenantTable(rows: TenantListing[]): string {
  if (!rows.length) return 'No tenants yet; create one with npm run cli -- tenant:create --name NAME';
  const table = [
    ['ID', 'NAME', 'OPERATOR', 'ACTIVE KEYS'],
    ...rows.map((r) => [r.id, r.name, r.isOperator ? 'yes' : 'no', String(r.activeKeys)]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  return table
    .map((row) =>
      row
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function describeDatabaseError(url: string, err: unknown): string {
  let where = url;
  try {
    const u = new URL(url);
    where = `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    /* the configuration has already checked the URL */
  }
  const e = err as { code?: string; message?: string };
  const hint = e.code === '3D000' ? '; run npm run migration:run' : '';
  return `cannot reach PostgreSQL at ${where} (DATABASE_URL): ${e.message ?? String(err)}${hint}`;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`cli: ${err.message}\n\n${err.usage}`);
    process.exit(2);
  }
  if (err instanceof CliFailure || err instanceof ConfigError) {
    console.error(`cli: ${err.message}`);
  } else {
    console.error(`cli: ${(err as Error)?.message ?? String(err)}`);
  }
  process.exit(1);
});
