import { ClickHouseClient, createClient } from '@clickhouse/client';
// The client's own value formatting (quoting and escaping), as it formats query parameters.
// ClickHouse 18.16 has no query parameters, so values go into the SQL text through it, never by hand.
import { formatQueryParams } from '@clickhouse/client/dist/common/data_formatter/format_query_params';

/** A value as a ClickHouse SQL literal (strings quoted and escaped, arrays as [..], null as NULL). */
export function chLiteral(value: unknown): string {
  return formatQueryParams({ value, wrapStringInQuotes: true, printNullAsKeyword: true });
}

/**
 * ClickHouse over HTTP, through @clickhouse/client's query, command and insert with JSONEachRow
 * (all 18.16 understands of it: no query parameters, no DateTime64). One client per server: the
 * first answers queries and inserts; DDL and mutations of the local tables go to each (`each`).
 */
export class ClickHouse {
  private readonly clients: ClickHouseClient[];

  constructor(
    readonly urls: string[],
    readonly database: string,
    readonly cluster: string | null,
  ) {
    this.clients = urls.map((url) =>
      createClient({
        url,
        request_timeout: 60_000,
        // 18.16 answers an unknown setting with an error: only settings it has are sent.
        clickhouse_settings: {},
        compression: { request: false, response: false },
        max_open_connections: 16,
      }),
    );
  }

  /** Rows of a SELECT (JSONEachRow; 64-bit integers come as strings). */
  async query<T>(sql: string, opts: { timeoutMs?: number; server?: number } = {}): Promise<T[]> {
    const rs = await this.clients[opts.server ?? 0].query({
      query: sql,
      format: 'JSONEachRow',
      ...(opts.timeoutMs
        ? {
            clickhouse_settings: { max_execution_time: Math.max(1, Math.ceil(opts.timeoutMs / 1000)) },
            abort_signal: AbortSignal.timeout(opts.timeoutMs + 1000),
          }
        : {}),
    });
    return rs.json<T>();
  }

  async command(sql: string, server = 0): Promise<void> {
    await this.clients[server].command({ query: sql });
  }

  /** Runs a statement on every server (DDL and mutations of local tables). */
  async each(sql: string): Promise<void> {
    for (let i = 0; i < this.clients.length; i++) await this.command(sql, i);
  }

  /** One INSERT of all rows (JSONEachRow): a block, synchronous through a Distributed table. */
  async insert(table: string, rows: object[]): Promise<void> {
    if (!rows.length) return;
    await this.clients[0].insert({
      table: `${this.database}.${table}`,
      values: rows,
      format: 'JSONEachRow',
      ...(this.cluster ? { clickhouse_settings: { insert_distributed_sync: 1 } } : {}),
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}

/** Whether ClickHouse stopped a query at its max_execution_time (TIMEOUT_EXCEEDED), or the client gave up on it. */
export function isClickHouseTimeout(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  return e?.code === '159' || e?.name === 'AbortError' || e?.name === 'TimeoutError';
}
