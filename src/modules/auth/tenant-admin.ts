import { generateApiKey, Scope } from './api-key';
import { TenantsRepository } from './tenants.repository';
import { TenantSettings } from './principal';

export interface IssuedKey {
  id: string;
  key: string;
  tenantId: string;
  scopes: Scope[];
}

/** Creating tenants and issuing keys: shared by the CLI and the development seed. */
export class TenantAdmin {
  constructor(private readonly repo: TenantsRepository) {}

  createTenant(input: {
    id?: string;
    name: string;
    isOperator?: boolean;
    rateLimitRps?: number;
    rateLimitEps?: number;
    corsOrigins?: string[];
  }): Promise<TenantSettings> {
    return this.repo.createTenant({
      ...input,
      isOperator: input.isOperator ?? false,
      corsOrigins: input.corsOrigins ?? [],
    });
  }

  /** Issues a key; the full key exists only in the return value, never in storage. */
  async issueKey(tenantId: string, scopes: Scope[], name: string | null = null): Promise<IssuedKey> {
    const { id, key, secretHash } = generateApiKey();
    await this.repo.insertKey({ id, tenantId, name, secretHash, scopes });
    return { id, key, tenantId, scopes };
  }

  /** In development, a first start with no tenant creates a demo operator tenant and its keys. */
  async seedDemo(): Promise<{ tenant: TenantSettings; keys: IssuedKey[] } | null> {
    if ((await this.repo.countTenants()) > 0) return null;
    const tenant = await this.createTenant({ name: 'demo', isOperator: true });
    const keys = [];
    for (const scope of ['ingest', 'report', 'admin'] as Scope[])
      keys.push(await this.issueKey(tenant.id, [scope], `demo ${scope}`));
    return { tenant, keys };
  }
}
