import { ProblemException } from '../../common/problem';

/** A report request refused before any query: a 400 naming what to change. */
export const invalidReport = (detail: string, extensions: Record<string, unknown> = {}) =>
  new ProblemException(400, 'invalid-report', 'Invalid report request', detail, extensions);

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * The instant of an RFC 3339 date-time with a zone, years 0001 to 9999 (Postgres's timestamptz takes
 * all of them), or null: no expanded years (±YYYYYY), no year 0000, no 30 February, no 24:00.
 */
export function parseReportDate(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = DATE_TIME.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // a leap year: 29 February passes here
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > daysInMonth || (month === 2 && day === 29 && !leap)) return null;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
  const ms = Date.parse(value.toUpperCase());
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The instant of a report date-time in microseconds since the epoch (the precision events are
 * stored with); digits past the sixth of the fraction are cut. A bad value is a 400 naming `name`.
 */
export function parseReportMicros(value: unknown, name: string): number {
  const ms = parseReportDate(value);
  if (ms === null) {
    const message = dateDetail(name, value);
    throw invalidReport(message, {
      errors: [{ pointer: `/${name}`, keyword: 'format', message: message.slice(0, -1) }],
    });
  }
  const fraction = DATE_TIME.exec(value as string)![7] ?? '.';
  const whole = Date.parse((value as string).replace(/\.\d+/, '').toUpperCase());
  return whole * 1000 + Number(fraction.slice(1).padEnd(6, '0').slice(0, 6));
}

const dateDetail = (name: string, raw: unknown) =>
  `${name} must be an RFC 3339 date-time with a zone, years 0001 to 9999, e.g. 2025-01-15T00:00:00Z; got ${JSON.stringify(typeof raw === 'string' ? raw.slice(0, 40) : (raw ?? null))}.`;

/** from and to of a report body, both valid date-times, to after from; else a 400. */
export function reportRange(from: unknown, to: unknown): { from: number; to: number } {
  const f = parseReportDate(from);
  const t = parseReportDate(to);
  for (const [name, raw, ms] of [
    ['from', from, f],
    ['to', to, t],
  ] as const) {
    if (ms === null) {
      throw invalidReport(dateDetail(name, raw));
    }
  }
  if (!(t! > f!)) throw invalidReport('to must be after from.');
  return { from: f!, to: t! };
}

/** A range longer than `maxDays` is a 400 naming the limit and its variable. */
export function checkRangeDays(from: number, to: number, maxDays: number, variable: string, what: string): void {
  if (to - from > maxDays * 86_400_000) {
    const days = Math.ceil((to - from) / 86_400_000);
    throw invalidReport(
      `${what} covers at most ${maxDays} days (${variable}); this one covers ${days} days. Choose a shorter range.`,
    );
  }
}
