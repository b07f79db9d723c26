/** Postgres error raised when a row has no partition (for instance one was dropped meanwhile). */
export const NO_PARTITION = '23514';

/**
 * What a failed persist statement calls for:
 * - `isolate`: Postgres refused the data itself (SQLSTATE class 22, data exception: a value its
 *   column type refuses, such as `invalid input syntax for type uuid`; class 23, integrity, such as
 *   a NOT NULL column left empty). The same events fail the same way on every retry, so the
 *   statement is split to find the events at fault; the others are stored.
 * - `retry`: anything else (connection lost, 40001 serialization, 40P01 deadlock, 57P01 server
 *   shutdown, 53xxx out of resources, a statement or lock timeout): nothing is wrong with the events
 *   and the whole job is retried as it is.
 *
 * A missing partition (23514) is a retry while the worker's list of partitions may be stale: the
 * retry reads the list again and creates what is missing. When the list was read in the same
 * attempt and every event's day was created, a row still without a partition is placed by Postgres
 * on a day other than the one the worker computed: that is the event's doing, and it is isolated.
 */
export type StorageFailure = 'isolate' | 'retry';

export function sqlState(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

export function classifyStorageError(err: unknown, opts: { partitionsFresh: boolean }): StorageFailure {
  const code = sqlState(err);
  if (code === null) return 'retry';
  if (code === NO_PARTITION) return opts.partitionsFresh ? 'isolate' : 'retry';
  return code.startsWith('22') || code.startsWith('23') ? 'isolate' : 'retry';
}
