import { Pool } from 'pg';
import { generateApiKey, Scope } from '../../src/modules/auth/api-key';

export const TENANT = '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10';
export const OTHER_TENANT = '7c2f4e1a-9b3d-4c5e-8f6a-1b2c3d4e5f60';
export const OPERATOR_TENANT = 'e0e0e0e0-0000-4000-8000-00000000000a';

export interface TenantKeys {
  id: string;
  ingest: string;
  report: string;
  admin: string;
}

/** Inserts a tenant with one key per scope, as the CLI would, and returns the keys. */
export async function seedTenant(
  db: Pool,
  id: string,
  opts: { name?: string; operator?: boolean; rps?: number; eps?: number; cors?: string[] } = {},
): Promise<TenantKeys> {
  await db.query(
    `INSERT INTO analytics_tenants (id, name, is_operator, rate_limit_rps, rate_limit_eps, cors_origins) VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      id,
      opts.name ?? `tenant ${id.slice(0, 4)}`,
      opts.operator ?? false,
      opts.rps ?? null,
      opts.eps ?? null,
      opts.cors ?? [],
    ],
  );
  const keys = { id } as TenantKeys;
  for (const scope of ['ingest', 'report', 'admin'] as Scope[]) {
    const k = generateApiKey();
    await db.query(
      `INSERT INTO analytics_api_keys (id, tenant_id, name, secret_hash, scopes) VALUES ($1, $2, $3, $4, $5)`,
      [k.id, id, scope, k.secretHash, [scope]],
    );
    keys[scope] = k.key;
  }
  return keys;
}
