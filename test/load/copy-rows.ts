/** The columns the worker writes into analytics_events_raw (EventsRepository.insertFresh), in order. */
export const RAW_COLUMNS = [
  'tenant_id',
  'event_id',
  'event_name',
  'occurred_at',
  'received_at',
  'site_id',
  'session_id',
  'user_id',
  'source',
  'attributes',
  'context',
  'payload',
] as const;

/** A value in COPY's text format: \N for null; objects as JSON; backslash, tab, newline and carriage return escaped. */
export function copyText(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** One event as a COPY line (with its newline) for RAW_COLUMNS. */
export function rawCopyLine(e: Partial<Record<(typeof RAW_COLUMNS)[number], unknown>>): string {
  return `${RAW_COLUMNS.map((c) => copyText(e[c])).join('\t')}\n`;
}
