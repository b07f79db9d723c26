import { randomUUID } from 'node:crypto';
import { makeEvent } from '../support/events';
import { sleep } from './infra';

/** What an event is sent to get: valid events must be acknowledged, the others refused. */
export type Intent = 'valid' | 'invalid' | 'consent-off';

export const ACKNOWLEDGED = new Set(['accepted', 'duplicate']);

/** Every event sent, with its final verdict (null while it has none) and what its attempts met. */
export interface EventRecord {
  tenant: string;
  intent: Intent;
  name: string;
  final: string | null;
  attempts: number;
  /** what each attempt got, in order: 'net' (no answer), an HTTP status, or the verdict */
  history: string[];
  /** when the first attempt that got no final verdict ended (ms epoch), if one did */
  failedAt: number | null;
  /** the last attempt that got no final verdict: the api, and the start of the problem's detail */
  lastFailure?: string;
}

export interface Target {
  name: string;
  base: string;
  ready: boolean;
  /** requests of this run now in flight to it */
  inflight: number;
}

export interface ClientOptions {
  senders: number;
  tenants: { id: string; ingestKey: string; site: string }[];
  apis: Target[];
  /** no new events after this time (ms epoch) */
  loadEnd: number;
  /** no retries after this time: events still without a verdict are left unresolved */
  giveUpAt: number;
  /** share of requests that are batches, and the largest batch */
  batchShare: number;
  maxBatch: number;
}

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_RETRY_AFTER_MS = 5_000;

/**
 * An at-least-once client: N senders, each posting a single event or a batch of fresh event ids,
 * and sending the same request again (same event ids) on a network error, a 5xx, a 429 or a 503
 * (after Retry-After when given) until every event in it has a final verdict.
 */
export class AtLeastOnceClient {
  readonly events = new Map<string, EventRecord>();
  /** HTTP statuses of every answer, and 'network error' for attempts that got none */
  readonly statuses = new Map<string, number>();
  /** every answer that acknowledged at least one event: when its attempt was sent and answered (ms epoch) */
  readonly acks: { sent: number; at: number }[] = [];
  requests = 0;
  attempts = 0;
  private stopped = false;

  constructor(private readonly opts: ClientOptions) {}

  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.opts.senders }, (_, i) => this.sender(i)));
  }

  /** Stops at once: no further retries (cleanup after a failure). */
  abort(): void {
    this.stopped = true;
  }

  private async sender(index: number): Promise<void> {
    let n = 0;
    while (!this.stopped && Date.now() < this.opts.loadEnd) {
      const tenant = this.opts.tenants[(index + n++) % this.opts.tenants.length];
      const batch =
        Math.random() < this.opts.batchShare ? 2 + Math.floor(Math.random() * (this.opts.maxBatch - 1)) : null;
      const events = Array.from({ length: batch ?? 1 }, () => this.newEvent(tenant.id, tenant.site));
      await this.deliver(index, tenant.ingestKey, events, batch !== null);
    }
  }

  private newEvent(tenant: string, site: string): Record<string, unknown> {
    const r = Math.random();
    let intent: Intent = 'valid';
    let event: Record<string, unknown>;
    if (r < 0.02) {
      intent = 'invalid'; // a required attribute missing: rejected
      event = makeEvent({ tenant_id: tenant, site_id: site, attributes: { 'voice.turn_id': 't-1' } });
    } else if (r < 0.03) {
      intent = 'consent-off'; // analytics consent refused, for subjects of its own: dropped
      event = makeEvent({ tenant_id: tenant, site_id: site, user_id: `u_${randomUUID()}` });
      (event.context as { consent: { analytics: boolean } }).consent.analytics = false;
    } else if (r < 0.25) {
      event = makeEvent({ tenant_id: tenant, site_id: site, event_name: 'voice.barge_in' });
    } else if (r < 0.35) {
      event = makeEvent({ tenant_id: tenant, site_id: site, event_name: 'ai.tool_call_completed' });
    } else {
      event = makeEvent({ tenant_id: tenant, site_id: site });
    }
    this.events.set(event.event_id as string, {
      tenant,
      intent,
      name: event.event_name as string,
      final: null,
      attempts: 0,
      history: [],
      failedAt: null,
    });
    return event;
  }

  private count(status: string): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  /** Sends one request until each of its events has a final verdict, or the run gives up. */
  private async deliver(sender: number, key: string, events: Record<string, unknown>[], batch: boolean) {
    this.requests++;
    const ids = events.map((e) => e.event_id as string);
    const records = ids.map((id) => this.events.get(id)!);
    const body = JSON.stringify(batch ? { events } : events[0]);
    const path = batch ? '/api/v1/analytics/events/batch' : '/api/v1/analytics/events';
    for (let attempt = 0; !this.stopped && Date.now() < this.opts.giveUpAt; attempt++) {
      const target = this.pickTarget(sender + attempt);
      this.attempts++;
      for (const r of records) r.attempts++;
      let status = 0;
      let text = '';
      let retryAfter: string | null = null;
      target.inflight++;
      const sent = Date.now();
      try {
        const res = await fetch(`${target.base}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        text = await res.text();
      } catch {
        status = 0;
      } finally {
        target.inflight--;
      }
      const at = Date.now();
      if (status === 0 || status === 429 || status >= 500) for (const r of records) r.failedAt ??= at;
      if (status === 0) {
        this.count('network error');
        for (const r of records) {
          r.history.push('net');
          r.lastFailure = `${target.name}: no answer`;
        }
        await sleep(backoff(attempt));
        continue;
      }
      this.count(String(status));
      if (status === 429 || status >= 500) {
        const detail = problemDetail(text);
        for (const r of records) {
          r.history.push(String(status));
          r.lastFailure = `${target.name}: ${status} ${detail}`;
        }
        const hinted = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : null;
        await sleep(hinted !== null ? Math.min(hinted, MAX_RETRY_AFTER_MS) : backoff(attempt));
        continue;
      }
      const verdicts = this.verdicts(status, text, ids.length, batch);
      let acked = false;
      records.forEach((r, i) => {
        r.final = verdicts[i];
        r.history.push(verdicts[i]);
        if (ACKNOWLEDGED.has(verdicts[i])) acked = true;
      });
      if (acked) this.acks.push({ sent, at });
      return;
    }
  }

  /** The final verdict of each event of an answer that is not to be retried. */
  private verdicts(status: number, text: string, n: number, batch: boolean): string[] {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return Array<string>(n).fill(`http ${status} (unreadable)`);
    }
    if (status === 202 && batch) {
      const results = (body as { results?: { index: number; status: string }[] }).results ?? [];
      const out = Array<string>(n).fill('http 202 (no verdict)');
      for (const r of results) if (r.index >= 0 && r.index < n) out[r.index] = r.status;
      return out;
    }
    if (status === 202) return [(body as { status?: string }).status ?? 'http 202 (no verdict)'];
    if (status === 400 && !batch) {
      const result = (body as { result?: { status?: string } }).result;
      if (result?.status) return [result.status];
    }
    return Array<string>(n).fill(`http ${status}`);
  }

  /** The api for an attempt: round robin over the ready ones (any, when none is ready). */
  private pickTarget(turn: number): Target {
    const ready = this.opts.apis.filter((a) => a.ready);
    const pool = ready.length ? ready : this.opts.apis;
    return pool[turn % pool.length];
  }
}

/** The start of a problem+json answer's detail (what a 5xx says is wrong). */
function problemDetail(text: string): string {
  try {
    const p = JSON.parse(text) as { detail?: unknown; title?: unknown };
    const said = typeof p.detail === 'string' ? p.detail : typeof p.title === 'string' ? p.title : '';
    return said.slice(0, 80);
  } catch {
    return text.slice(0, 80);
  }
}

/** 50 ms doubling to 1 s, with jitter. */
function backoff(attempt: number): number {
  const base = Math.min(1000, 50 * 2 ** Math.min(attempt, 5));
  return base / 2 + Math.random() * (base / 2);
}
