import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { inTimedTransaction } from '../../database/timed-query';
import { UsageLine } from './usage-lines';

/**
 * The price of a usage line `l` under the book valid at its time: that tenant's latest version
 * whose valid_from is at or before the line's occurred_at (the later published wins a tie), and in
 * it the price for the line's unit and model, else for its unit and provider. No row: no price.
 */
const PRICE_OF_LINE = `
  SELECT b.version, pr.unit_price * l.quantity AS cost
  FROM (SELECT version FROM analytics_price_books
        WHERE tenant_id = l.tenant_id AND valid_from <= l.occurred_at
        ORDER BY valid_from DESC, version DESC LIMIT 1) b
  JOIN analytics_prices pr ON pr.tenant_id = l.tenant_id AND pr.version = b.version AND pr.unit = l.unit
   AND ((pr.match = 'model' AND pr.name = l.model) OR (pr.match = 'provider' AND pr.name = l.provider))
  ORDER BY (pr.match = 'model') DESC LIMIT 1`;

export interface PriceRow {
  match: 'model' | 'provider';
  name: string;
  unit: string;
  unit_price: string;
}

export interface PriceBookRow {
  version: number;
  currency: string;
  valid_from: Date;
  created_at: Date;
  prices: PriceRow[];
}

export interface CostFilter {
  tenantId: string;
  from: Date;
  to: Date;
  siteId: string | null;
  source: string | null;
}

/** Cost per bucket of a timeseries: lines (or units), lines without a price, cost in micro-units. */
export interface CostBucketRow {
  i: number;
  units: string;
  missing: string;
  micros: number | null;
}

export type CostGroupBy = 'model' | 'provider' | 'unit' | 'conversation' | 'turn';
const GROUP_KEY: Record<CostGroupBy, string> = {
  model: 'model',
  provider: 'provider',
  unit: 'unit',
  conversation: 'conversation_id',
  turn: "conversation_id || '/' || turn_id",
};

/** Per-metric selection of lines and units for the cost timeseries. */
const COST_UNITS: Record<'total' | 'per_conversation' | 'per_turn', { where: string; units: string }> = {
  total: { where: 'true', units: 'count(*)' },
  per_conversation: { where: 'conversation_id IS NOT NULL', units: 'count(DISTINCT conversation_id)' },
  per_turn: {
    where: 'turn_id IS NOT NULL',
    units: "count(DISTINCT coalesce(conversation_id, '') || '/' || turn_id)",
  },
};

/**
 * The only class with SQL for analytics_price_books, analytics_prices and analytics_usage_lines,
 * so that another storage backend implements one class.
 */
@Injectable()
export class CostRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Writes usage lines priced under the book valid at each line's time, in the fold's transaction. */
  async record(tx: EntityManager, lines: UsageLine[]): Promise<void> {
    if (!lines.length) return;
    const col = <K extends keyof UsageLine>(k: K) => lines.map((l) => l[k]);
    await tx.query(
      `INSERT INTO analytics_usage_lines
         (tenant_id, occurred_at, site_id, source, conversation_id, turn_id, model, provider, unit, quantity, cost, book_version)
       SELECT l.*, p.cost, p.version
       FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::numeric[])
         AS l(tenant_id, occurred_at, site_id, source, conversation_id, turn_id, model, provider, unit, quantity)
       LEFT JOIN LATERAL (${PRICE_OF_LINE}) p ON true`,
      [
        col('tenant_id'),
        col('occurred_at'),
        col('site_id'),
        col('source'),
        col('conversation_id'),
        col('turn_id'),
        col('model'),
        col('provider'),
        col('unit'),
        col('quantity'),
      ],
    );
  }

  /** The tenant's currency: that of its first book, or null before any. */
  async currency(tenantId: string, tx: EntityManager = this.db.manager): Promise<string | null> {
    const rows = await tx.query<{ currency: string }[]>(
      `SELECT currency FROM analytics_price_books WHERE tenant_id = $1 ORDER BY version LIMIT 1`,
      [tenantId],
    );
    return rows[0]?.currency ?? null;
  }

  /** Adds the next version of the tenant's price book, under a per-tenant lock; returns its number. */
  async publish(
    tenantId: string,
    book: { currency: string; validFrom: Date; prices: PriceRow[] },
  ): Promise<{ version: number } | { currencyConflict: string }> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(7413021, hashtext($1::text))`, [tenantId]);
      const currency = await this.currency(tenantId, tx);
      if (currency && currency !== book.currency) return { currencyConflict: currency };
      const [{ version }] = await tx.query<{ version: number }[]>(
        `INSERT INTO analytics_price_books (tenant_id, version, currency, valid_from)
         SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM analytics_price_books WHERE tenant_id = $1
         RETURNING version`,
        [tenantId, book.currency, book.validFrom],
      );
      await tx.query(
        `INSERT INTO analytics_prices (tenant_id, version, match, name, unit, unit_price)
         SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::numeric[])`,
        [
          tenantId,
          version,
          book.prices.map((p) => p.match),
          book.prices.map((p) => p.name),
          book.prices.map((p) => p.unit),
          book.prices.map((p) => p.unit_price),
        ],
      );
      return { version };
    });
  }

  async books(tenantId: string): Promise<PriceBookRow[]> {
    const books = await this.db.query<Omit<PriceBookRow, 'prices'>[]>(
      `SELECT version, currency, valid_from, created_at FROM analytics_price_books WHERE tenant_id = $1 ORDER BY version`,
      [tenantId],
    );
    const prices = await this.db.query<(PriceRow & { version: number })[]>(
      `SELECT version, match, name, unit, unit_price::text FROM analytics_prices WHERE tenant_id = $1 ORDER BY version, unit, match, name`,
      [tenantId],
    );
    return books.map((b) => ({
      ...b,
      prices: prices.filter((p) => p.version === b.version).map(({ version: _v, ...p }) => p),
    }));
  }

  /**
   * Re-prices the tenant's lines in [from, to) under the books as they are now. Returns the lines
   * looked at, those whose cost changed, and those left without a price.
   */
  async reprice(
    tenantId: string,
    from: Date,
    to: Date,
    timeoutMs: number,
  ): Promise<{ lines: number; changed: number; missing: number }> {
    return inTimedTransaction(this.db, timeoutMs, async (tx) => {
      const [row] = await tx.query<{ lines: string; changed: string; missing: string }[]>(
        `WITH priced AS (
           SELECT l.ctid AS id, l.cost AS old_cost, l.book_version AS old_version, p.cost, p.version
           FROM analytics_usage_lines l LEFT JOIN LATERAL (${PRICE_OF_LINE}) p ON true
           WHERE l.tenant_id = $1 AND l.occurred_at >= $2 AND l.occurred_at < $3
         ), updated AS (
           UPDATE analytics_usage_lines u SET cost = priced.cost, book_version = priced.version
           FROM priced WHERE u.ctid = priced.id
             AND (priced.old_cost IS DISTINCT FROM priced.cost OR priced.old_version IS DISTINCT FROM priced.version)
           RETURNING 1
         )
         SELECT (SELECT count(*) FROM priced) AS lines, (SELECT count(*) FROM updated) AS changed,
                (SELECT count(*) FROM priced WHERE cost IS NULL) AS missing`,
        [tenantId, from, to],
      );
      return { lines: Number(row.lines), changed: Number(row.changed), missing: Number(row.missing) };
    });
  }

  /** A cost metric per bucket of `grainMs` from `from`. */
  async buckets(
    f: CostFilter,
    kind: keyof typeof COST_UNITS,
    grainMs: number,
    timeoutMs: number,
  ): Promise<CostBucketRow[]> {
    const { where, units } = COST_UNITS[kind];
    return inTimedTransaction(this.db, timeoutMs, (tx) =>
      tx.query<CostBucketRow[]>(
        `SELECT floor((extract(epoch FROM occurred_at) * 1000 - $6) / $7)::int AS i, ${units} AS units,
                count(*) FILTER (WHERE cost IS NULL) AS missing, (sum(cost) * 1000000)::float8 AS micros
         FROM analytics_usage_lines
         WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND ($4::uuid IS NULL OR site_id = $4)
           AND ($5::text IS NULL OR source = $5) AND ${where}
         GROUP BY 1`,
        [f.tenantId, f.from, f.to, f.siteId, f.source, f.from.getTime(), grainMs],
      ),
    );
  }

  /** Exact totals over a range, optionally grouped; and the lines without a price, by model, provider and unit. */
  async report(
    f: CostFilter & { conversationId?: string },
    groupBy: CostGroupBy | null,
    timeoutMs: number,
  ): Promise<{
    total: MoneyRow;
    groups: (MoneyRow & { key: string | null })[];
    missing: { model: string | null; provider: string | null; unit: string; lines: string; quantity: string }[];
  }> {
    const where = `tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND ($4::uuid IS NULL OR site_id = $4)
      AND ($5::text IS NULL OR source = $5) AND ($6::text IS NULL OR conversation_id = $6)`;
    const params = [f.tenantId, f.from, f.to, f.siteId, f.source, f.conversationId ?? null];
    const money = `coalesce(sum(cost), 0)::text AS amount, round(coalesce(sum(cost), 0) * 1000000)::text AS micros,
      count(*) AS lines, count(*) FILTER (WHERE cost IS NULL) AS missing_lines`;
    return inTimedTransaction(this.db, timeoutMs, async (tx) => {
      const [total] = await tx.query<MoneyRow[]>(`SELECT ${money} FROM analytics_usage_lines WHERE ${where}`, params);
      const groups = groupBy
        ? await tx.query<(MoneyRow & { key: string | null })[]>(
            `SELECT ${GROUP_KEY[groupBy]} AS key, ${money} FROM analytics_usage_lines WHERE ${where}
             GROUP BY 1 ORDER BY sum(cost) DESC NULLS LAST, 1 LIMIT 1000`,
            params,
          )
        : [];
      const missing = await tx.query<
        { model: string | null; provider: string | null; unit: string; lines: string; quantity: string }[]
      >(
        `SELECT model, provider, unit, count(*) AS lines, sum(quantity)::text AS quantity FROM analytics_usage_lines
         WHERE ${where} AND cost IS NULL GROUP BY 1, 2, 3 ORDER BY 3, 1, 2`,
        params,
      );
      return { total, groups, missing };
    });
  }

  /** Lines older than `cutoff` (the rollups' retention: they hold no subject). */
  async deleteOlderThan(cutoff: Date): Promise<number> {
    const [, n] = await this.db.query<[unknown[], number]>(`DELETE FROM analytics_usage_lines WHERE occurred_at < $1`, [
      cutoff,
    ]);
    return n;
  }
}

export interface MoneyRow {
  amount: string;
  micros: string;
  lines: string;
  missing_lines: string;
}
