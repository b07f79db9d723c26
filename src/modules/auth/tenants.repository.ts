import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Scope } from './api-key';
import { TenantSettings } from './principal';

export interface StoredKey {
  id: string;
  tenant: TenantSettings;
  secretHash: Buffer;
  scopes: Scope[];
  revoked: boolean;
}

export interface KeyListing {
  id: string;
  tenant_id: string;
  tenant_name: string;
  name: string | null;
  scopes: Scope[];
  created_at: Date;
  revoked_at: Date | null;
}

export interface TenantListing {
  id: string;
  name: string;
  isOperator: boolean;
  activeKeys: number;
}

const TENANT_COLUMNS = `t.id, t.name, t.is_operator, t.rate_limit_rps, t.rate_limit_eps, t.cors_origins, t.validation_mode,
  t.retention_days, t.pseudonymize_user_id, t.pseudonym_secret, t.redact_keys`;

/** A row of TENANT_COLUMNS. */
interface TenantRow {
  id: string;
  name: string;
  is_operator: boolean;
  rate_limit_rps: number | null;
  rate_limit_eps: number | null;
  cors_origins: string[];
  validation_mode: TenantSettings['validationMode'];
  retention_days: number | null;
  pseudonymize_user_id: boolean;
  pseudonym_secret: Buffer;
  redact_keys: string[];
}

interface KeyRow extends TenantRow {
  key_id: string;
  secret_hash: Buffer;
  scopes: Scope[];
  revoked_at: Date | null;
}

function toTenant(r: TenantRow): TenantSettings {
  return {
    id: r.id,
    name: r.name,
    isOperator: r.is_operator,
    rateLimitRps: r.rate_limit_rps,
    rateLimitEps: r.rate_limit_eps,
    corsOrigins: r.cors_origins,
    validationMode: r.validation_mode,
    retentionDays: r.retention_days,
    pseudonymizeUserId: r.pseudonymize_user_id,
    pseudonymSecret: r.pseudonym_secret,
    redactKeys: r.redact_keys,
  };
}

/** The only class with SQL for analytics_tenants and analytics_api_keys. */
@Injectable()
export class TenantsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async findKey(id: string): Promise<StoredKey | null> {
    const rows = await this.db.query<KeyRow[]>(
      `SELECT k.id AS key_id, k.secret_hash, k.scopes, k.revoked_at, ${TENANT_COLUMNS}
       FROM analytics_api_keys k JOIN analytics_tenants t ON t.id = k.tenant_id WHERE k.id = $1`,
      [id],
    );
    if (!rows.length) return null;
    const r = rows[0];
    return {
      id: r.key_id,
      tenant: toTenant(r),
      secretHash: r.secret_hash,
      scopes: r.scopes,
      revoked: r.revoked_at !== null,
    };
  }

  async findTenant(id: string): Promise<TenantSettings | null> {
    const rows = await this.db.query<TenantRow[]>(`SELECT ${TENANT_COLUMNS} FROM analytics_tenants t WHERE t.id = $1`, [
      id,
    ]);
    return rows.length ? toTenant(rows[0]) : null;
  }

  /**
   * The pseudonym secrets of these tenants, read in the caller's transaction when given (a fold
   * reads them in its own, so that a rotation committed meanwhile is seen whole or not at all).
   */
  async pseudonymSecrets(ids: string[], tx?: EntityManager): Promise<Map<string, Buffer>> {
    if (!ids.length) return new Map();
    const rows = await (tx ?? this.db).query<{ id: string; pseudonym_secret: Buffer }[]>(
      `SELECT id, pseudonym_secret FROM analytics_tenants WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.pseudonym_secret]));
  }

  /** Each tenant's retention in days, null where it follows the service default. */
  async retentionByTenant(): Promise<{ id: string; retention_days: number | null }[]> {
    return this.db.query<{ id: string; retention_days: number | null }[]>(
      `SELECT id, retention_days FROM analytics_tenants`,
    );
  }

  async countTenants(): Promise<number> {
    return (await this.db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM analytics_tenants`))[0].n;
  }

  async createTenant(t: {
    id?: string;
    name: string;
    isOperator: boolean;
    rateLimitRps?: number;
    rateLimitEps?: number;
    corsOrigins: string[];
  }): Promise<TenantSettings> {
    const rows = await this.db.query<TenantRow[]>(
      `INSERT INTO analytics_tenants AS t (id, name, is_operator, rate_limit_rps, rate_limit_eps, cors_origins)
       VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3, $4, $5, $6) RETURNING ${TENANT_COLUMNS}`,
      [t.id ?? null, t.name, t.isOperator, t.rateLimitRps ?? null, t.rateLimitEps ?? null, t.corsOrigins],
    );
    return toTenant(rows[0]);
  }

  async updateTenant(
    id: string,
    patch: {
      rateLimitRps?: number | null;
      rateLimitEps?: number | null;
      corsOrigins?: string[];
      validationMode?: TenantSettings['validationMode'];
      retentionDays?: number | null;
      pseudonymizeUserId?: boolean;
      redactKeys?: string[];
    },
  ): Promise<TenantSettings | null> {
    // TypeORM answers an UPDATE with [rows, rowCount].
    const [rows] = await this.db.query<[TenantRow[], number]>(
      `UPDATE analytics_tenants AS t SET
         rate_limit_rps  = CASE WHEN $2 THEN $3::int ELSE rate_limit_rps END,
         rate_limit_eps  = CASE WHEN $4 THEN $5::int ELSE rate_limit_eps END,
         cors_origins    = COALESCE($6::text[], cors_origins),
         validation_mode = COALESCE($7, validation_mode),
         retention_days  = CASE WHEN $8 THEN $9::int ELSE retention_days END,
         pseudonymize_user_id = COALESCE($10, pseudonymize_user_id),
         redact_keys     = COALESCE($11::text[], redact_keys)
       WHERE id = $1 RETURNING ${TENANT_COLUMNS}`,
      [
        id,
        patch.rateLimitRps !== undefined,
        patch.rateLimitRps ?? null,
        patch.rateLimitEps !== undefined,
        patch.rateLimitEps ?? null,
        patch.corsOrigins ?? null,
        patch.validationMode ?? null,
        patch.retentionDays !== undefined,
        patch.retentionDays ?? null,
        patch.pseudonymizeUserId ?? null,
        patch.redactKeys ?? null,
      ],
    );
    return rows.length ? toTenant(rows[0]) : null;
  }

  async insertKey(k: {
    id: string;
    tenantId: string;
    name: string | null;
    secretHash: Buffer;
    scopes: Scope[];
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO analytics_api_keys (id, tenant_id, name, secret_hash, scopes) VALUES ($1, $2, $3, $4, $5)`,
      [k.id, k.tenantId, k.name, k.secretHash, k.scopes],
    );
  }

  async listKeys(tenantId?: string): Promise<KeyListing[]> {
    return this.db.query<KeyListing[]>(
      `SELECT k.id, k.tenant_id, t.name AS tenant_name, k.name, k.scopes, k.created_at, k.revoked_at
       FROM analytics_api_keys k JOIN analytics_tenants t ON t.id = k.tenant_id
       WHERE $1::uuid IS NULL OR k.tenant_id = $1 ORDER BY t.name, k.created_at`,
      [tenantId ?? null],
    );
  }

  /** Every tenant with its number of active keys, by name; no key material, no tenant secret. */
  async listTenants(): Promise<TenantListing[]> {
    const rows = await this.db.query<{ id: string; name: string; is_operator: boolean; active_keys: number }[]>(
      `SELECT t.id, t.name, t.is_operator, count(k.id) FILTER (WHERE k.revoked_at IS NULL)::int AS active_keys
       FROM analytics_tenants t LEFT JOIN analytics_api_keys k ON k.tenant_id = t.id
       GROUP BY t.id ORDER BY t.name, t.id`,
    );
    return rows.map((r) => ({ id: r.id, name: r.name, isOperator: r.is_operator, activeKeys: r.active_keys }));
  }

  async revokeKey(id: string): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, rowCount].
    const [, revoked] = await this.db.query<[unknown[], number]>(
      `UPDATE analytics_api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`,
      [id],
    );
    return revoked > 0;
  }
}
