import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['ingest', 'report', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * API keys look like `ak_<id>_<secret>`: the recognizable prefix lets secret scanners find leaked
 * keys, the id (12 hex characters) finds the key's row, and only the SHA-256 of the 43-character
 * secret is stored. A key is random (256 bits), so a fast hash is enough; no password stretching.
 */
const KEY_PATTERN = /^ak_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface ParsedKey {
  id: string;
  secret: string;
}

export function generateApiKey(): { id: string; key: string; secretHash: Buffer } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, key: `ak_${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseApiKey(presented: string): ParsedKey | null {
  const m = KEY_PATTERN.exec(presented);
  return m ? { id: m[1], secret: m[2] } : null;
}

export function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const presented = hashSecret(secret);
  return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
}

/** `admin` includes `report` and `ingest`; `report` and `ingest` are separate. */
export function grants(scopes: readonly string[], needed: Scope): boolean {
  return scopes.includes(needed) || scopes.includes('admin');
}

export function parseScopes(list: string): Scope[] {
  const scopes = list.split(/[\s,]+/).filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length || scopes.length === 0) {
    throw new Error(`scopes must be a comma-separated list of ${SCOPES.join(', ')} (got "${list}")`);
  }
  return [...new Set(scopes)] as Scope[];
}
