import { createHash } from 'node:crypto';

/** A UUID (version 8, name-based) from the first 16 bytes of SHA-256 over the parts. */
export function derivedUuid(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  const b = h.digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The site_id of a tenant's service in a deployment environment, when its resource names no analytics.site_id. */
export function otlpSiteId(tenantId: string, serviceName: string, environment = ''): string {
  return derivedUuid('otlp-site', tenantId.toLowerCase(), serviceName, environment);
}

/** The event_id of the event a span emits: a resent span is a duplicate. */
export function spanEventId(tenantId: string, traceId: string, spanId: string, eventName: string): string {
  return derivedUuid('otlp-span', tenantId.toLowerCase(), traceId, spanId, eventName);
}

/** The event_id of the event a log record becomes: its trace, its span and the record's own content. */
export function logEventId(tenantId: string, traceId: string, spanId: string, recordDigest: string): string {
  return derivedUuid('otlp-log', tenantId.toLowerCase(), traceId, spanId, recordDigest);
}
