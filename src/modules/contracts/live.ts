/**
 * The live stream's contract between the worker (which publishes after each rollup fold) and
 * every api instance (which serves the stream): the Redis names and the message.
 *
 * Each fold round writes, per tenant whose events it folded, one entry to the tenant's Redis
 * stream (its history, trimmed to ANALYTICS_LIVE_HISTORY entries, for Last-Event-ID resumes) and
 * publishes the same message, with the entry's id, on one pub/sub channel that every api
 * instance subscribes to.
 */

/** One minute bucket a fold changed, with what the fold added to it (not the bucket's total). */
export interface LiveBucket {
  metric: string;
  /** Start of the minute bucket, ISO 8601 with milliseconds. */
  bucket: string;
  /** A site id, or "*" for all sites. */
  site_id: string;
  /** A source, or "*" for all sources. */
  source: string;
  count: number;
  num: number;
  sum: number;
  min: number | null;
  max: number | null;
}

/** What one fold round changed for one tenant. */
export interface LiveFold {
  /** When the fold committed (ISO 8601). */
  folded_at: string;
  /** Events of the tenant the round folded. */
  events: number;
  buckets: LiveBucket[];
}

export function liveChannel(prefix: string): string {
  return `${prefix}:live:folds`;
}

export function liveStreamKey(prefix: string, tenantId: string): string {
  return `${prefix}:live:stream:${tenantId}`;
}

/** The pub/sub message: `<tenant>|<stream entry id>|<LiveFold JSON>`. */
export function decodeLiveMessage(message: string): { tenant: string; id: string; json: string } | null {
  const a = message.indexOf('|');
  const b = a === -1 ? -1 : message.indexOf('|', a + 1);
  if (a <= 0 || b <= a + 1) return null;
  return { tenant: message.slice(0, a), id: message.slice(a + 1, b), json: message.slice(b + 1) };
}
