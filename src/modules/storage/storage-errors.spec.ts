import { classifyStorageError } from './storage-errors';

const pg = (code: string) => Object.assign(new Error(`error ${code}`), { code });

describe('classifyStorageError: which failures split a job, which retry it whole', () => {
  it.each([
    ['22P02', 'invalid_text_representation (a uuid Postgres refuses)'],
    ['22007', 'invalid_datetime_format'],
    ['22008', 'datetime_field_overflow'],
    ['22009', 'invalid_time_zone_displacement_value'],
    ['22021', 'character_not_in_repertoire'],
    ['22P05', 'untranslatable_character'],
    ['22001', 'string_data_right_truncation'],
    ['23502', 'not_null_violation'],
    ['23505', 'unique_violation'],
    ['23503', 'foreign_key_violation'],
  ])('isolates the events at fault on %s (%s)', (code) => {
    expect(classifyStorageError(pg(code), { partitionsFresh: false })).toBe('isolate');
    expect(classifyStorageError(pg(code), { partitionsFresh: true })).toBe('isolate');
  });

  it.each([
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock_detected'],
    ['57P01', 'admin_shutdown'],
    ['57014', 'query_canceled (statement timeout)'],
    ['53300', 'too_many_connections'],
    ['53100', 'disk_full'],
    ['08006', 'connection_failure'],
    ['55P03', 'lock_not_available'],
    ['XX000', 'internal_error'],
  ])('retries the whole job on %s (%s)', (code) => {
    expect(classifyStorageError(pg(code), { partitionsFresh: false })).toBe('retry');
    expect(classifyStorageError(pg(code), { partitionsFresh: true })).toBe('retry');
  });

  it('retries on an error without a SQLSTATE (a connection reset, a pool timeout)', () => {
    expect(classifyStorageError(new Error('Connection terminated unexpectedly'), { partitionsFresh: true })).toBe(
      'retry',
    );
    expect(
      classifyStorageError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), {
        partitionsFresh: true,
      }),
    ).toBe('retry');
    expect(classifyStorageError(undefined, { partitionsFresh: true })).toBe('retry');
  });

  it('retries a missing partition while the list of partitions may be stale, isolates it once it was read fresh', () => {
    expect(classifyStorageError(pg('23514'), { partitionsFresh: false })).toBe('retry');
    expect(classifyStorageError(pg('23514'), { partitionsFresh: true })).toBe('isolate');
  });
});
