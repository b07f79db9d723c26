/** The UTC day ('YYYY-MM-DD') an instant falls in: the raw table's partition key. */
export function utcDay(instant: string | number | Date): string {
  return new Date(instant).toISOString().slice(0, 10);
}

/** `count` consecutive UTC days starting at the day of `from`. */
export function daysFrom(from: Date, count: number): string[] {
  const start = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  return Array.from({ length: count }, (_, i) => utcDay(start + i * 86_400_000));
}
