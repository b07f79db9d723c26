import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Versioned price books per tenant and the usage lines the fold writes: one line per (event, unit)
 * with its exact quantity, and its cost under the book valid at the event's time (NULL while no
 * price applies). Money is `numeric`, exact; re-pricing rewrites `cost` and `book_version`.
 */
export class PriceBooksAndUsageLines1765210000000 implements MigrationInterface {
  name = 'PriceBooksAndUsageLines1765210000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE analytics_price_books (
        tenant_id  uuid        NOT NULL REFERENCES analytics_tenants(id) ON DELETE CASCADE,
        version    integer     NOT NULL,
        currency   char(3)     NOT NULL,
        valid_from timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, version)
      )`);
    await q.query(
      `CREATE INDEX analytics_price_books_valid ON analytics_price_books (tenant_id, valid_from DESC, version DESC)`,
    );
    await q.query(`
      CREATE TABLE analytics_prices (
        tenant_id  uuid    NOT NULL,
        version    integer NOT NULL,
        match      text    NOT NULL CHECK (match IN ('model', 'provider')),
        name       text    NOT NULL,
        unit       text    NOT NULL,
        unit_price numeric NOT NULL CHECK (unit_price >= 0),
        PRIMARY KEY (tenant_id, version, unit, match, name),
        FOREIGN KEY (tenant_id, version) REFERENCES analytics_price_books (tenant_id, version) ON DELETE CASCADE
      )`);
    await q.query(`
      CREATE TABLE analytics_usage_lines (
        tenant_id       uuid        NOT NULL,
        occurred_at     timestamptz NOT NULL,
        site_id         uuid,
        source          text        NOT NULL,
        conversation_id text,
        turn_id         text,
        model           text,
        provider        text,
        unit            text        NOT NULL,
        quantity        numeric     NOT NULL,
        cost            numeric,
        book_version    integer
      )`);
    await q.query(`CREATE INDEX analytics_usage_lines_time ON analytics_usage_lines (tenant_id, occurred_at)`);
    await q.query(
      `CREATE INDEX analytics_usage_lines_conversation ON analytics_usage_lines (tenant_id, conversation_id) WHERE conversation_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE analytics_usage_lines`);
    await q.query(`DROP TABLE analytics_prices`);
    await q.query(`DROP TABLE analytics_price_books`);
  }
}
