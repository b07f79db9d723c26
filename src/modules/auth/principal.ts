import { Scope } from './api-key';

/** Who is calling: one tenant, its scopes, and how it proved it. Attached to the request. */
export interface Principal {
  tenantId: string;
  scopes: Scope[];
  via: 'api_key' | 'jwt';
  /** The API key id (never the secret) or the JWT subject, for audit lines. */
  credentialId: string;
  isOperator: boolean;
  limits: { rps: number; eps: number };
  corsOrigins: string[];
  validationMode: ValidationMode;
  privacy: TenantPrivacy;
}

/** A tenant's privacy settings, as the ingestion pipeline applies them. */
export interface TenantPrivacy {
  retentionDays: number;
  pseudonymizeUserId: boolean;
  pseudonymSecret: Buffer;
  redactKeys: string[];
}

/** What happens to an event that fails its content schema: refused, or kept apart for replay. */
export type ValidationMode = 'reject' | 'quarantine';

export interface TenantSettings {
  id: string;
  name: string;
  isOperator: boolean;
  rateLimitRps: number | null;
  rateLimitEps: number | null;
  corsOrigins: string[];
  validationMode: ValidationMode;
  retentionDays: number | null;
  pseudonymizeUserId: boolean;
  pseudonymSecret: Buffer;
  redactKeys: string[];
}
