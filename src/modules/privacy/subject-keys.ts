import { createHash, createHmac } from 'node:crypto';

/**
 * The keyed forms of subject identifiers, all HMAC-SHA256 under the tenant's 32-byte secret
 * (`analytics_tenants.pseudonym_secret`). Each use has its own prefix, so a key made for one
 * purpose never equals another's (an erasure key is not the pseudonym of the same id). Without the
 * secret none of them can be turned back into the id, nor matched against a guessed one.
 */

/** The pseudonym stored in place of a user id: stable, so erasure and export can find it. */
export function pseudonymize(secret: Buffer, value: string): string {
  return createHmac('sha256', secret).update(value).digest('hex');
}

/**
 * The Redis key part of a consent record. It keys the 128-bit digest that records were first named
 * by, so that records written before could be renamed in place (`ConsentKeyMigration`).
 */
export function consentKey(secret: Buffer, kind: 's' | 'u', id: string): string {
  return consentKeyOfDigest(secret, kind, createHash('sha256').update(id).digest('hex').slice(0, 32));
}

export function consentKeyOfDigest(secret: Buffer, kind: 's' | 'u', digest: string): string {
  return createHmac('sha256', secret).update(`consent:${kind}:${digest}`).digest('hex');
}

/**
 * The key an erasure request holds for one stored form of its subject's id. Postgres computes the
 * same in the persist statement: hmac(convert_to('erasure:<type>:', 'UTF8') || sha256(id), secret, 'sha256').
 */
export function erasureKey(secret: Buffer, type: 'user' | 'session', storedId: string): Buffer {
  return createHmac('sha256', secret)
    .update(`erasure:${type}:`)
    .update(createHash('sha256').update(storedId).digest())
    .digest();
}

/** A distinct-rate member's unit (a session, search or hold id) as the members table holds it. */
export function memberKey(secret: Buffer, unit: string): Buffer {
  return createHmac('sha256', secret).update(`unit:${unit}`).digest();
}

/** An erasure's subject, as the statements that find its rows take it. */
export interface SubjectMatch {
  tenantId: string;
  type: 'user' | 'session';
  /** One key per stored form of the id (`erasureKey`). */
  keys: Buffer[];
  /** The tenant's secret the keys were made with. */
  secret: Buffer;
}

/** SQL for `erasureKey` of the stored id `idSql` (a text expression) under the secret `secretSql`. */
export function erasureKeySql(type: 'user' | 'session', idSql: string, secretSql: string): string {
  return `hmac(convert_to('erasure:${type}:', 'UTF8') || sha256(convert_to(${idSql}, 'UTF8')), ${secretSql}, 'sha256')`;
}

/**
 * SQL that is true for a row whose stored id (`column`, by default the events' own `user_id` or
 * `session_id`) has one of the keys in the parameter `keysParam`, under the secret in `secretParam`.
 */
export function subjectMatchSql(
  type: 'user' | 'session',
  secretParam: string,
  keysParam: string,
  column = type === 'user' ? 'user_id' : 'session_id::text',
): string {
  return `${column} IS NOT NULL AND ${erasureKeySql(type, column, secretParam)} = ANY(${keysParam}::bytea[])`;
}
