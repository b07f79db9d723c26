import { AsyncLocalStorage } from 'node:async_hooks';

/** A statement a report ran, as its driver received it. */
export interface CapturedQuery {
  sql: string;
  parameters: unknown[];
}

const capture = new AsyncLocalStorage<CapturedQuery[]>();
const MAX_CAPTURED = 50;

/** Runs `fn` recording every statement it sends to Postgres (debug mode, for `meta.debug`). */
export function capturingQueries<T>(queries: CapturedQuery[], fn: () => T): T {
  return capture.run(queries, fn);
}

/** Called by the data source's logger for each statement: recorded when a capture is running. */
export function recordQuery(sql: string, parameters: unknown[] | undefined): void {
  const queries = capture.getStore();
  if (!queries || queries.length >= MAX_CAPTURED) return;
  queries.push({ sql, parameters: parameters ?? [] });
}
