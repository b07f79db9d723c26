/** The UTC day ('YYYY-MM-DD') an instant falls in: the raw table's partition key. */
export function utcDay(instant: string | number | Date): string {
  // An RFC 3339 time in UTC ("…Z", as most clients send it) starts with its UTC day: no Date
  // object for each of a job's events.
  if (typeof instant === 'string' && UTC_TIME.test(instant)) return instant.slice(0, 10);
  return new Date(instant).toISOString().slice(0, 10);
}

const UTC_TIME = /^\d{4}-\d{2}-\d{2}[Tt ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?[Zz]$/;

/** `count` consecutive UTC days starting at the day of `from`. */
export function daysFrom(from: Date, count: number): string[] {
  const start = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  return Array.from({ length: count }, (_, i) => utcDay(start + i * 86_400_000));
}
