import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { makeEvent } from '../../support/events';

/** The verdict an event is sent to get. */
export type Expect = 'accepted' | 'duplicate' | 'rejected';

/**
 * What a load generator sends and how the answers are booked. `next` builds the body of the next
 * request and names it with a token; `answer` books the response to that token; `abandon` books
 * a request that got no answer (an error or a timeout).
 */
export interface RequestSource {
  next(): { body: string; token: number };
  answer(token: number, status: number, body: string): void;
  abandon(token: number): void;
  /** requests answered so far, any status */
  readonly answered: number;
}

/** A realistic event (voice.first_response) of `tenant` and `site`. */
export function loadEvent(tenant: string, site: string): Record<string, unknown> {
  return makeEvent({
    tenant_id: tenant,
    site_id: site,
    attributes: {
      'voice.turn_id': 't-1',
      'voice.first_response_ms': Math.round(Math.random() * 900),
      'gen_ai.request.model': 'gpt-4o-mini',
    },
  });
}

/** The body of a request of `batch` events (null: one event for the single-event endpoint). */
export function requestBody(events: Record<string, unknown>[], batch: number | null): string {
  return JSON.stringify(batch === null ? events[0] : { events });
}

/**
 * Bodies for the baselines: the same shapes as the service gets, built before the load (a pool of
 * 1,000 cycled: the baselines store nothing, and the generator then costs them less CPU than it
 * costs the service, which needs a fresh event id in every event). Answers are only counted.
 */
export class PlainTraffic implements RequestSource {
  answered = 0;
  readonly statuses = new Map<number, number>();
  private seq = 0;
  private readonly bodies: string[];

  constructor(tenant: string, batch: number | null) {
    const site = randomUUID();
    this.bodies = Array.from({ length: 1000 }, () =>
      requestBody(
        Array.from({ length: batch ?? 1 }, () => loadEvent(tenant, site)),
        batch,
      ),
    );
  }

  next(): { body: string; token: number } {
    const token = ++this.seq;
    return { body: this.bodies[token % this.bodies.length], token };
  }

  answer(_token: number, status: number): void {
    this.answered++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  abandon(): void {
    /* counted by the generator */
  }
}

interface Pending {
  ids: string[];
  expect: Expect[];
  events?: Record<string, unknown>[];
}

interface Verdict {
  index?: number;
  event_id?: string | null;
  status?: string;
}
interface Summary {
  received?: number;
  accepted?: number;
  duplicate?: number;
  dropped?: number;
  quarantined?: number;
  rejected?: number;
  results?: Verdict[];
}

export interface Verification {
  /** rows of this scenario's events in analytics_events_raw, and their distinct event ids */
  rows: number;
  distinct_event_ids: number;
  /** answered accepted, not stored */
  lost: number;
  /** rows beyond one per event id */
  stored_twice: number;
  /** stored, although answered rejected or refused, or never sent */
  stored_not_accepted: number;
  /** sent in a request that got no answer (in flight when the load stopped), and stored */
  unanswered_stored: number;
  unanswered_sent: number;
  ok: boolean;
}

/**
 * The events of one scenario, all with the scenario's own site_id, and the book of every verdict:
 * which event ids were answered accepted (each must be stored exactly once), which were refused
 * (none may be stored), which got no answer (each may be stored, once). Batches can carry planted
 * duplicates (events already answered accepted, sent again verbatim) and invalid events (a
 * required attribute missing); each must come back with that verdict.
 */
export class ScenarioTraffic implements RequestSource {
  readonly site = randomUUID();
  answered = 0;
  readonly statuses = new Map<number, number>();
  readonly counts = {
    events_sent: 0,
    accepted: 0,
    duplicate: 0,
    rejected: 0,
    dropped: 0,
    quarantined: 0,
    planted_duplicates: 0,
    planted_invalid: 0,
  };
  /** answers that contradict themselves or what was sent */
  readonly problems = {
    body_counts: 0,
    verdicts: 0,
    accepted_twice: 0,
    unreadable_bodies: 0,
    examples: [] as string[],
  };
  private readonly accepted = new Set<string>();
  private readonly refused = new Set<string>();
  private readonly unanswered = new Set<string>();
  private readonly inflight = new Map<number, Pending>();
  private readonly pool: Record<string, unknown>[] = [];
  private poolNext = 0;
  private seq = 0;

  constructor(
    private readonly tenant: string,
    /** events per request; null for the single-event endpoint */
    readonly batch: number | null,
    private readonly plant: { duplicates: number; invalid: number } = { duplicates: 0, invalid: 0 },
  ) {}

  next(): { body: string; token: number } {
    const n = this.batch ?? 1;
    const kinds: Expect[] = [];
    const dups = Math.min(Math.round(n * this.plant.duplicates), this.pool.length);
    const invalid = Math.round(n * this.plant.invalid);
    for (let i = 0; i < n; i++) kinds.push(i < dups ? 'duplicate' : i < dups + invalid ? 'rejected' : 'accepted');
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
    }
    const events = kinds.map((k) => {
      if (k === 'duplicate') {
        this.counts.planted_duplicates++;
        return this.pool[Math.floor(Math.random() * this.pool.length)];
      }
      const e = loadEvent(this.tenant, this.site);
      if (k === 'rejected') {
        this.counts.planted_invalid++;
        delete (e.attributes as Record<string, unknown>)['voice.turn_id'];
      }
      return e;
    });
    const token = ++this.seq;
    this.inflight.set(token, {
      ids: events.map((e) => e.event_id as string),
      expect: kinds,
      ...(this.plant.duplicates > 0 ? { events } : {}),
    });
    this.counts.events_sent += n;
    return { body: requestBody(events, this.batch), token };
  }

  abandon(token: number): void {
    const p = this.inflight.get(token);
    if (!p) return;
    this.inflight.delete(token);
    for (const id of p.ids) this.unanswered.add(id);
  }

  answer(token: number, status: number, text: string): void {
    const p = this.inflight.get(token);
    if (!p) return;
    this.inflight.delete(token);
    this.answered++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    if (status !== 202) {
      // 4xx/5xx: nothing of this request may be stored (a 503 promises it), unless accepted before.
      for (const id of p.ids) if (!this.accepted.has(id)) this.refused.add(id);
      return;
    }
    let body: Summary & Verdict;
    try {
      body = JSON.parse(text) as Summary & Verdict;
    } catch {
      this.problems.unreadable_bodies++;
      this.note(`unreadable 202 body: ${text.slice(0, 120)}`);
      for (const id of p.ids) this.unanswered.add(id);
      return;
    }
    const results: Verdict[] = this.batch === null ? [body] : (body.results ?? []);
    if (this.batch !== null) {
      const tally = (s: string) => results.filter((r) => r.status === s).length;
      const sum =
        (body.accepted ?? 0) +
        (body.duplicate ?? 0) +
        (body.dropped ?? 0) +
        (body.quarantined ?? 0) +
        (body.rejected ?? 0);
      if (
        body.received !== p.ids.length ||
        sum !== p.ids.length ||
        results.length !== p.ids.length ||
        tally('accepted') !== body.accepted ||
        tally('duplicate') !== body.duplicate ||
        tally('rejected') !== body.rejected
      ) {
        this.problems.body_counts++;
        this.note(
          `counts do not add up: sent ${p.ids.length}, received ${body.received}, accepted ${body.accepted}, duplicate ${body.duplicate}, rejected ${body.rejected}, dropped ${body.dropped}, quarantined ${body.quarantined}, ${results.length} results`,
        );
      }
    }
    p.ids.forEach((id, i) => {
      const r = results[i];
      if (!r || r.event_id !== id) {
        this.problems.verdicts++;
        this.note(`verdict ${i} names ${r?.event_id} instead of ${id}`);
        this.unanswered.add(id);
        return;
      }
      if (r.status !== p.expect[i]) {
        this.problems.verdicts++;
        this.note(`event sent to be ${p.expect[i]} answered ${r.status}`);
      }
      switch (r.status) {
        case 'accepted':
          this.counts.accepted++;
          if (this.accepted.has(id)) this.problems.accepted_twice++;
          this.accepted.add(id);
          this.refused.delete(id);
          if (p.events) this.remember(p.events[i]);
          break;
        case 'duplicate':
          this.counts.duplicate++;
          break;
        case 'rejected':
          this.counts.rejected++;
          if (!this.accepted.has(id)) this.refused.add(id);
          break;
        case 'dropped':
          this.counts.dropped++;
          if (!this.accepted.has(id)) this.refused.add(id);
          break;
        case 'quarantined':
          this.counts.quarantined++;
          if (!this.accepted.has(id)) this.refused.add(id);
          break;
        default:
          this.problems.verdicts++;
          this.note(`unknown verdict ${String(r.status)}`);
      }
    });
  }

  /** Events answered accepted, for planting as duplicates later (the most recent 20,000). */
  private remember(event: Record<string, unknown>): void {
    if (this.pool.length < 20_000) this.pool.push(event);
    else this.pool[this.poolNext++ % this.pool.length] = event;
  }

  private note(line: string): void {
    if (this.problems.examples.length < 10) this.problems.examples.push(line);
  }

  /** Requests still waiting for an answer (in flight). */
  get pending(): number {
    return this.inflight.size;
  }

  get acceptedCount(): number {
    return this.accepted.size;
  }

  /**
   * Counts this scenario's rows in Postgres and checks them against the book: every event answered
   * accepted stored, each event id once, nothing stored that was refused or never sent.
   */
  async verify(db: Pool): Promise<Verification> {
    // Requests in flight when the load stopped were served, but their answers were not read.
    for (const token of [...this.inflight.keys()]) this.abandon(token);
    const params = [this.tenant, this.site];
    const agg = await db.query<{ rows: number; ids: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS ids FROM analytics_events_raw WHERE tenant_id = $1 AND site_id = $2`,
      params,
    );
    const stored = new Set(
      (
        await db.query<{ id: string }>(
          `SELECT DISTINCT event_id::text AS id FROM analytics_events_raw WHERE tenant_id = $1 AND site_id = $2`,
          params,
        )
      ).rows.map((r) => r.id),
    );
    let lost = 0;
    for (const id of this.accepted) if (!stored.has(id)) lost++;
    let notAccepted = 0;
    let unansweredStored = 0;
    for (const id of stored) {
      if (this.accepted.has(id)) continue;
      if (this.unanswered.has(id) && !this.refused.has(id)) unansweredStored++;
      else notAccepted++;
    }
    const { rows, ids } = agg.rows[0];
    const v = {
      rows,
      distinct_event_ids: ids,
      lost,
      stored_twice: rows - ids,
      stored_not_accepted: notAccepted,
      unanswered_stored: unansweredStored,
      unanswered_sent: this.unanswered.size,
    };
    return { ...v, ok: lost === 0 && rows === ids && notAccepted === 0 };
  }
}
