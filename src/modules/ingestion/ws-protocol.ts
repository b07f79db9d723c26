import { isJsonObject } from '../../common/validation';
import type { ProblemBody } from '../../common/problem';
import type { IngestSummary } from './event-verdict';

/** The subprotocol the server speaks; a browser offers it with `bearer.<key>` (EventSource-style clients cannot set headers). */
export const WS_PROTOCOL = 'analytics.v1';
export const WS_KEY_PROTOCOL_PREFIX = 'bearer.';

/**
 * Close codes the server sends. 1009 and 1012 are RFC 6455's; the 4000s are this protocol's own.
 * Every close carries a reason a person can act on.
 */
export const CloseCode = {
  /** A message larger than ANALYTICS_MAX_PAYLOAD_KB. */
  TooBig: 1009,
  /** Messages kept coming while the tenant's rate limit refused them. */
  RateLimited: 1008,
  /** Shutting down (SIGTERM): everything received was answered; reconnect, to another instance. */
  Restart: 1012,
  /** No message for ANALYTICS_WS_IDLE_TIMEOUT_MS. */
  Idle: 4001,
  /** No pong to the last ping. */
  NoPong: 4002,
} as const;

/** How many rate-limited answers in a row a connection may get before it is closed with 1008. */
export const FLOOD_DENIALS = 10;

/** A client message: one event, or a batch, tagged with the client's sequence number. */
export type WsMessage =
  | { seq: WsSeq; kind: 'single'; event: unknown }
  | { seq: WsSeq; kind: 'batch'; batch: { events: unknown; batch_id?: unknown } };

/** A client's sequence number: an integer ≥ 0 or a string of 1 to 64 characters. */
export type WsSeq = number | string;

/** What the server sends back for one message. */
export type WsAnswer =
  | ({ type: 'verdicts'; seq: WsSeq } & IngestSummary)
  | { type: 'error'; seq: WsSeq | null; error: ProblemBody }
  | { type: 'retry_after'; seq: WsSeq; retry_after_s: number; detail: string };

/** A message that cannot be handled, with the seq it named (null when none could be read). */
export class BadMessage extends Error {
  constructor(
    readonly seq: WsSeq | null,
    readonly problem: ProblemBody,
  ) {
    super(problem.detail);
  }
}

const TYPE_BASE = 'https://analytics.dev/problems/';

function badMessage(seq: WsSeq | null, detail: string, slug = 'invalid-message'): BadMessage {
  return new BadMessage(seq, { type: TYPE_BASE + slug, title: 'Invalid message', status: 400, detail });
}

function readSeq(v: unknown): WsSeq | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && v.length >= 1 && v.length <= 64 && !v.includes('\u0000')) return v;
  return null;
}

/**
 * Reads one text (or binary UTF-8) frame: `{"seq": 1, "event": {...}}` or
 * `{"seq": 2, "events": [...], "batch_id"?: "..."}`. Throws {@link BadMessage}.
 */
export function parseMessage(data: Buffer | string): WsMessage {
  let body: unknown;
  try {
    body = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (err) {
    throw badMessage(
      null,
      `The message is not valid JSON (${String((err as Error).message).slice(0, 200)}); send one JSON object per message.`,
      'invalid-json',
    );
  }
  if (!isJsonObject(body)) {
    throw badMessage(null, 'A message must be a JSON object {"seq": …, "event": {…}} or {"seq": …, "events": […]}.');
  }
  const seq = readSeq(body.seq);
  if (seq === null) {
    throw badMessage(
      null,
      '/seq is required: an integer ≥ 0 or a string of 1 to 64 characters, echoed in the answer to this message.',
    );
  }
  const { seq: _seq, event, events, batch_id, ...rest } = body;
  const unknown = Object.keys(rest);
  if (unknown.length) {
    throw badMessage(
      seq,
      `Unknown field(s) in the message: ${unknown
        .slice(0, 5)
        .map((k) => JSON.stringify(k.slice(0, 40)))
        .join(', ')}; expected seq and event, or seq, events and batch_id.`,
    );
  }
  if (event !== undefined && events !== undefined) {
    throw badMessage(seq, 'A message carries either /event (one event) or /events (a batch), not both.');
  }
  if (event !== undefined) {
    if (batch_id !== undefined) throw badMessage(seq, '/batch_id belongs to a batch (/events), not to one /event.');
    return { seq, kind: 'single', event };
  }
  if (events !== undefined)
    return { seq, kind: 'batch', batch: { events, ...(batch_id !== undefined ? { batch_id } : {}) } };
  throw badMessage(seq, 'The message has neither /event nor /events.');
}

/**
 * The API key a handshake offers in Sec-WebSocket-Protocol (`analytics.v1, bearer.<key>`), for
 * browsers, which cannot set an Authorization header on a WebSocket.
 */
export function keyFromProtocols(header: string | string[] | undefined): string | null {
  const list = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((p) => p.trim());
  const offered = list.find((p) => p.startsWith(WS_KEY_PROTOCOL_PREFIX));
  return offered ? offered.slice(WS_KEY_PROTOCOL_PREFIX.length) || null : null;
}
