import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Subject identifiers outside the events are keyed with the tenant's secret (HMAC-SHA256, as
 * pseudonyms are), so that none of them is a lookup away from the id it stands for:
 *
 * - erasure requests hold `subject_keys`, one key per form the subject's id may be stored in
 *   (as sent, or pseudonymized), instead of a plain SHA-256 of one form. A key is
 *   HMAC(secret, 'erasure:<type>:' || sha256(stored id)), so the requests already recorded are
 *   rekeyed here from the digest they hold;
 * - the distinct-rate members hold `unit_key` = HMAC(secret, 'unit:' || unit) instead of the unit
 *   (a session id, a search id, a hold id), rekeyed here from the units they hold.
 *
 * Postgres computes the same keys where it must (the persist statement skips events of erased
 * subjects), with pgcrypto's hmac().
 *
 * down() restores the earlier columns, but a key cannot be turned back into the digest or the unit
 * it was made from: the requests keep their first key where the digest was (it matches no event
 * any more, so events of those subjects still queued would be stored), and the members are
 * emptied (buckets keep their counts; a unit seen again in a bucket already counted is counted again).
 */
export class KeyedSubjects1765123000000 implements MigrationInterface {
  name = 'KeyedSubjects1765123000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto`);

    await q.query(`ALTER TABLE analytics_erasures ADD COLUMN subject_keys bytea[]`);
    await q.query(`
      UPDATE analytics_erasures x
         SET subject_keys = ARRAY[hmac(convert_to('erasure:' || x.subject_type || ':', 'UTF8') || x.subject_hash, t.pseudonym_secret, 'sha256')]
        FROM analytics_tenants t WHERE t.id = x.tenant_id`);
    await q.query(`DROP INDEX idx_analytics_erasures_subject`);
    await q.query(
      `ALTER TABLE analytics_erasures DROP COLUMN subject_hash, ALTER COLUMN subject_keys SET NOT NULL,
         ADD CONSTRAINT analytics_erasures_subject_keys CHECK (cardinality(subject_keys) BETWEEN 1 AND 4)`,
    );
    // The persist statement looks for a tenant's requests made after an event was received.
    await q.query(`CREATE INDEX idx_analytics_erasures_tenant ON analytics_erasures (tenant_id, requested_at)`);

    await q.query(`ALTER TABLE analytics_rollup_members ADD COLUMN unit_key bytea`);
    await q.query(`
      UPDATE analytics_rollup_members m
         SET unit_key = hmac(convert_to('unit:' || m.unit, 'UTF8'), t.pseudonym_secret, 'sha256')
        FROM analytics_tenants t WHERE t.id = m.tenant_id`);
    await q.query(`DELETE FROM analytics_rollup_members WHERE unit_key IS NULL`); // of tenants deleted since
    await q.query(`
      ALTER TABLE analytics_rollup_members DROP CONSTRAINT analytics_rollup_members_pkey, DROP COLUMN unit,
        ALTER COLUMN unit_key SET NOT NULL,
        ADD PRIMARY KEY (tenant_id, metric, level, site_id, source, bucket, side, unit_key)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM analytics_rollup_members`);
    await q.query(`
      ALTER TABLE analytics_rollup_members DROP CONSTRAINT analytics_rollup_members_pkey, DROP COLUMN unit_key,
        ADD COLUMN unit text NOT NULL,
        ADD PRIMARY KEY (tenant_id, metric, level, site_id, source, bucket, side, unit)`);

    await q.query(`DROP INDEX idx_analytics_erasures_tenant`);
    await q.query(`ALTER TABLE analytics_erasures ADD COLUMN subject_hash bytea`);
    await q.query(`UPDATE analytics_erasures SET subject_hash = subject_keys[1]`);
    await q.query(
      `ALTER TABLE analytics_erasures DROP CONSTRAINT analytics_erasures_subject_keys, DROP COLUMN subject_keys,
         ALTER COLUMN subject_hash SET NOT NULL`,
    );
    await q.query(`CREATE INDEX idx_analytics_erasures_subject ON analytics_erasures (tenant_id, subject_hash)`);
    await q.query(`DROP EXTENSION IF EXISTS pgcrypto`);
  }
}
