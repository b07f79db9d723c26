import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../database/data-source';
import { parseScopes } from '../modules/auth/api-key';
import { AuthRepository } from '../modules/auth/auth.repository';
import { TenantAdmin } from '../modules/auth/tenant-admin';
import { AnalyticsConfig } from '../modules/config/analytics-config';

const USAGE = `Usage: npm run cli -- <command> [options]

  tenant:create --name NAME [--id UUID] [--operator] [--rps N] [--eps N] [--cors ORIGIN,ORIGIN]
  tenant:update --tenant UUID [--rps N|default] [--eps N|default] [--cors ORIGIN,ORIGIN|none]
                [--validation-mode reject|quarantine] [--retention-days N|default]
                [--pseudonymize on|off] [--redact-keys KEY,KEY|none]
  key:create    --tenant UUID --scopes ingest,report,admin [--name LABEL]
  key:list      [--tenant UUID]
  key:revoke    --key KEY_ID_OR_KEY

A key is printed once, when it is created; only its hash is stored.`;

class UsageError extends Error {}

function need(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`${flag} is required`);
  return v;
}
function limit(v: string | undefined, flag: string): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'default') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a positive integer or "default" (got "${v}")`);
  return n;
}
function origins(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (v === 'none') return [];
  const list = v
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of list) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o))
      throw new UsageError(`--cors takes origins like https://shop.example.com (no path); got "${o}"`);
  }
  return list;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values: o } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      id: { type: 'string' },
      operator: { type: 'boolean' },
      rps: { type: 'string' },
      eps: { type: 'string' },
      cors: { type: 'string' },
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      key: { type: 'string' },
      'validation-mode': { type: 'string' },
      'retention-days': { type: 'string' },
      pseudonymize: { type: 'string' },
      'redact-keys': { type: 'string' },
    },
    strict: true,
  });
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return;
  }
  const config = AnalyticsConfig.fromEnvironment(process.env);
  const ds = await new DataSource(dataSourceOptions(config.database.url, { extra: { max: 1 } } as never)).initialize();
  const repo = new AuthRepository(ds);
  const admin = new TenantAdmin(repo);
  try {
    switch (command) {
      case 'tenant:create': {
        const t = await admin.createTenant({
          id: o.id,
          name: need(o.name, '--name'),
          isOperator: o.operator ?? false,
          rateLimitRps: limit(o.rps, '--rps') ?? undefined,
          rateLimitEps: limit(o.eps, '--eps') ?? undefined,
          corsOrigins: origins(o.cors),
        });
        console.log(JSON.stringify({ ...t, pseudonymSecret: undefined }, null, 2));
        break;
      }
      case 'tenant:update': {
        const mode = o['validation-mode'];
        if (mode !== undefined && mode !== 'reject' && mode !== 'quarantine')
          throw new UsageError(`--validation-mode must be reject or quarantine (got "${mode}")`);
        const retention = limit(o['retention-days'], '--retention-days');
        if (typeof retention === 'number' && retention > 3650)
          throw new UsageError('--retention-days must be at most 3650');
        const pseudo = o.pseudonymize;
        if (pseudo !== undefined && pseudo !== 'on' && pseudo !== 'off')
          throw new UsageError(`--pseudonymize must be on or off (got "${pseudo}")`);
        const redact =
          o['redact-keys'] === undefined
            ? undefined
            : o['redact-keys'] === 'none'
              ? []
              : o['redact-keys']
                  .split(',')
                  .map((k) => k.trim().toLowerCase().replace(/-/g, '_'))
                  .filter(Boolean);
        const t = await repo.updateTenant(need(o.tenant, '--tenant'), {
          rateLimitRps: limit(o.rps, '--rps'),
          rateLimitEps: limit(o.eps, '--eps'),
          corsOrigins: origins(o.cors),
          validationMode: mode,
          retentionDays: retention,
          pseudonymizeUserId: pseudo === undefined ? undefined : pseudo === 'on',
          redactKeys: redact,
        });
        if (!t) throw new UsageError(`no tenant ${o.tenant}`);
        console.log(JSON.stringify({ ...t, pseudonymSecret: undefined }, null, 2));
        break;
      }
      case 'key:create': {
        const tenantId = need(o.tenant, '--tenant');
        if (!(await repo.findTenant(tenantId))) throw new UsageError(`no tenant ${tenantId}`);
        const k = await admin.issueKey(tenantId, parseScopes(need(o.scopes, '--scopes')), o.name ?? null);
        console.log(
          `key id:  ${k.id}\nscopes:  ${k.scopes.join(', ')}\ntenant:  ${k.tenantId}\nAPI key: ${k.key}\n(shown only now: store it in your secret manager)`,
        );
        break;
      }
      case 'key:list': {
        const rows = await repo.listKeys(o.tenant);
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
        const id = need(o.key, '--key').replace(/^ak_([0-9a-f]{12})_.*$/, '$1');
        if (!(await repo.revokeKey(id))) throw new UsageError(`no active key ${id}`);
        console.log(`Revoked ${id}; every instance refuses it within a second.`);
        break;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await ds.destroy();
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`cli: ${(err as Error).message}\n\n${USAGE}`);
  } else {
    console.error(`cli: ${(err as Error).message}`);
  }
  process.exit(1);
});
