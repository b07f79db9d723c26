import { AnalyticsError } from './errors.js';
import type { components } from './openapi.js';

export type EventDto = components['schemas']['EventDto'];
export type EventVerdict = components['schemas']['EventVerdictDto'];
export type IngestSummary = components['schemas']['IngestSummaryDto'];
export type VerdictStatus = EventVerdict['status'];

/** What the buffer does when it holds `maxBuffered` events and another one is tracked. */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest';

export interface BatchOptions {
  /** Events per request (default 100, at most the service's ANALYTICS_MAX_BATCH_SIZE, 500). */
  maxSize?: number;
  /** How long the first event of a batch waits for others before the batch is sent (default 1000 ms). */
  lingerMs?: number;
  /** Events held while waiting to be sent (default 10,000); past it the overflow policy applies. */
  maxBuffered?: number;
  /**
   * drop-newest (default): the event being tracked is refused; drop-oldest: the oldest waiting event
   * is let go to make room. Either way the event let go gets an `overflow` error (its promise rejects
   * and onError is called); nothing is dropped silently.
   */
  overflow?: OverflowPolicy;
}

export interface BatchPolicy {
  maxSize: number;
  lingerMs: number;
  maxBuffered: number;
  overflow: OverflowPolicy;
}

export function batchPolicy(o: BatchOptions = {}): BatchPolicy {
  const p: BatchPolicy = {
    maxSize: o.maxSize ?? 100,
    lingerMs: o.lingerMs ?? 1000,
    maxBuffered: o.maxBuffered ?? 10_000,
    overflow: o.overflow ?? 'drop-newest',
  };
  if (!Number.isInteger(p.maxSize) || p.maxSize < 1 || p.maxSize > 500)
    throw new RangeError('batch.maxSize must be an integer from 1 to 500');
  if (!(p.lingerMs >= 0)) throw new RangeError('batch.lingerMs must be ≥ 0');
  if (!Number.isInteger(p.maxBuffered) || p.maxBuffered < p.maxSize)
    throw new RangeError('batch.maxBuffered must be an integer ≥ batch.maxSize');
  if (p.overflow !== 'drop-newest' && p.overflow !== 'drop-oldest')
    throw new RangeError('batch.overflow must be drop-newest or drop-oldest');
  return p;
}

/** The verdict of one tracked event, as delivered to onVerdict and to the promise of track(). */
export interface TrackedVerdict {
  event_id: string;
  event_name: string;
  status: VerdictStatus;
  errors?: EventVerdict['errors'];
}

interface Pending {
  event: EventDto;
  resolve: (v: TrackedVerdict) => void;
  reject: (e: AnalyticsError) => void;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Sends one batch; resolves with the service's summary or rejects with an AnalyticsError. */
export type SendBatch = (events: EventDto[], opts: { keepalive: boolean }) => Promise<IngestSummary>;

/**
 * The client-side buffer: events wait at most lingerMs, go out maxSize at a time, one request at a
 * time, and every event's verdict reaches its promise and onVerdict; a failure reaches its promise
 * and onError.
 */
export class Tracker {
  private readonly buffer: Pending[] = [];
  private timer: unknown = null;
  private sending: Promise<void> | null = null;
  private closed = false;
  private keepalive = false;

  constructor(
    private readonly policy: BatchPolicy,
    private readonly send: SendBatch,
    private readonly timers: Timers,
    private readonly hooks: {
      onVerdict?: (v: TrackedVerdict) => void;
      onError?: (e: AnalyticsError) => void;
    },
  ) {}

  get buffered(): number {
    return this.buffer.length;
  }

  /** Adds an event; the promise settles with its verdict (its rejection is handled, so it may be ignored). */
  add(event: EventDto): Promise<TrackedVerdict> {
    let entry!: Pending;
    const promise = new Promise<TrackedVerdict>((resolve, reject) => (entry = { event, resolve, reject }));
    promise.catch(() => undefined);
    if (this.closed) {
      this.fail(
        [entry],
        new AnalyticsError('closed', 'The analytics client is closed', { eventIds: [event.event_id] }),
      );
      return promise;
    }
    if (this.buffer.length >= this.policy.maxBuffered) {
      const victim = this.policy.overflow === 'drop-oldest' ? this.buffer.shift()! : entry;
      this.fail(
        [victim],
        new AnalyticsError(
          'overflow',
          `The analytics buffer holds ${this.policy.maxBuffered} events (batch.maxBuffered); event ${victim.event.event_id} was not sent (${this.policy.overflow})`,
          { eventIds: [victim.event.event_id] },
        ),
      );
      if (victim === entry) return promise;
    }
    this.buffer.push(entry);
    if (this.buffer.length >= this.policy.maxSize) this.pump();
    else if (this.timer === null) this.timer = this.timers.set(() => this.pump(), this.policy.lingerMs);
    return promise;
  }

  /**
   * Sends everything buffered now and waits until every event tracked before the call has its
   * verdict or error. `keepalive` (page hide) asks the browser to finish the requests after the page goes.
   */
  async flush(opts: { keepalive?: boolean } = {}): Promise<void> {
    if (opts.keepalive) this.keepalive = true;
    while (this.buffer.length > 0 || this.sending) {
      this.pump();
      await this.sending;
    }
    this.keepalive = false;
  }

  /** Flushes, then refuses further events. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private pump(): void {
    if (this.timer !== null) {
      this.timers.clear(this.timer);
      this.timer = null;
    }
    if (this.sending || this.buffer.length === 0) return;
    this.sending = this.drain().finally(() => {
      this.sending = null;
      // Events tracked while the last batch was in flight wait for their own linger.
      if (this.buffer.length > 0 && this.timer === null)
        this.timer = this.timers.set(
          () => this.pump(),
          this.buffer.length >= this.policy.maxSize ? 0 : this.policy.lingerMs,
        );
    });
  }

  /** Sends a batch, then more while full batches wait (or, on page hide, while anything waits). */
  private async drain(): Promise<void> {
    do {
      await this.deliver(this.buffer.splice(0, this.policy.maxSize));
    } while (this.buffer.length >= this.policy.maxSize || (this.keepalive && this.buffer.length > 0));
  }

  private async deliver(batch: Pending[]): Promise<void> {
    let summary: IngestSummary;
    try {
      summary = await this.send(
        batch.map((p) => p.event),
        { keepalive: this.keepalive },
      );
    } catch (err) {
      const e =
        err instanceof AnalyticsError
          ? err
          : new AnalyticsError('network', `The batch could not be sent: ${(err as Error)?.message ?? String(err)}`, {
              cause: err,
            });
      e.details.eventIds = batch.map((p) => p.event.event_id);
      this.fail(batch, e);
      return;
    }
    batch.forEach((p, i) => {
      const r = summary.results[i];
      const verdict: TrackedVerdict = {
        event_id: p.event.event_id,
        event_name: p.event.event_name,
        status: r.status,
        ...(r.errors ? { errors: r.errors } : {}),
      };
      this.hooks.onVerdict?.(verdict);
      p.resolve(verdict);
    });
  }

  private fail(entries: Pending[], error: AnalyticsError): void {
    this.hooks.onError?.(error);
    for (const p of entries) p.reject(error);
  }
}
