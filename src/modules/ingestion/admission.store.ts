import { hash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { QueueName } from '../contracts/jobs';
import { StoredEvent } from '../contracts/stored-event';
import { EventsRepository } from '../storage/events.repository';
import { PostgresBreaker } from '../../database/postgres-breaker';
import { queuePrefix, RedisClient } from '../../common/redis.provider';
import { Telemetry } from '../observability/telemetry.service';
import { AnalyticsConfig } from '../config/analytics-config';
import type { TenantPrivacy } from '../auth/principal';
import { consentKey } from '../privacy/subject-keys';

/** What admission needs of an event's tenant: how long consent records last, and the secret that keys them. */
export type SubjectPolicy = Pick<TenantPrivacy, 'retentionDays' | 'pseudonymSecret'>;

/**
 * What Redis says of one event: consent drops it, this request claimed it, it was claimed before,
 * it would record a consent withdrawal beyond its tenant's quota (ANALYTICS_CONSENT_MAX_SUBJECTS),
 * or it was not decided because its request (a batch, decided whole) holds such an event.
 */
export type Admission = 'dropped' | 'claimed' | 'duplicate' | 'over-quota' | 'not-decided';
const CODES: Admission[] = ['dropped', 'claimed', 'duplicate', 'over-quota', 'not-decided'];
/** How long a ledger lookup may take before the request is answered 503 (it runs only for undecided events). */
const LEDGER_TIMEOUT_MS = 1000;
/** How long a claim's request may take to add its job (its enqueue timeout and a margin), and how often to look. */
const IN_FLIGHT_MS = 3500;
const IN_FLIGHT_POLL_MS = 20;
const IN_FLIGHT_POLLS = Math.ceil(IN_FLIGHT_MS / IN_FLIGHT_POLL_MS) + 1;

export interface EventKey {
  tenant_id: string;
  event_id: string;
}

/**
 * Consent, then the dedupe claim, for each event in order, in one script: one round trip for a
 * request, where asking consent and claiming separately took two.
 *
 * KEYS: the call's distinct consent subjects (withdrawn while their key exists), then one dedupe
 * key per event, then one index per tenant of the call (a sorted set of its withdrawn subjects'
 * keys, scored by when each record expires), then the call's seen-filters (one per tenant and day
 * of occurred_at). ARGV: subject count, event count, tenant count, dedupe window (ms), the quota of
 * records per tenant, now (ms), whole ('1': the call is one request, decided whole), the key prefix
 * of the ingest queue's jobs, the seen-filters' lifetime (s), then per subject the lifetime of its
 * consent record (s, its tenant's retention) and its tenant's position, then per event its consent
 * flag ('1' given, '0' refused, '-' none), its subject count, its claim (`<job id>|<ms>`), the
 * position of its seen-filter, its four filter bits, and the positions of its subjects in KEYS.
 *
 * Consent: an explicit flag decides the event and records the withdrawal (or its end) for the
 * event's session and user; an event without one is dropped while any of its subjects has
 * withdrawn; a decision applies to the events after it in the same call. The records changed are
 * written once at the end. Quota: a withdrawal that would make its tenant keep more than the quota
 * of records is not recorded and its event is answered 3 (over quota), not dropped silently: the
 * record is what drops the subject's later events, so the client must know it was not kept. With
 * whole set, such an event makes the script change nothing at all and answer 3 for it and 4 for
 * every other event. Dedupe: an allowed event is claimed with SET NX PX, the claim naming its job,
 * and sets its four bits of the seen-filter; a repeat inside the call loses to its first allowed
 * occurrence; a claim already there is a duplicate only while the job it names is in Redis. One
 * call may carry several requests' events (single events are admitted together when they are
 * queued): it decides them as calls one after another in that order would. Returns per event 0
 * dropped, 1 claimed, 2 duplicate, 3 over quota, 4 not decided, 5 claimed before by a job that is
 * not in Redis, 6 claimed now though the filter's bits were all set (5 and 6: see confirm). (All keys in one script: fine on one Redis, not on a Redis Cluster.)
 */
const ADMIT = `
local ns, ne, nt = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, quota, now, whole = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local jobs, filterTtl = ARGV[8], ARGV[9]
local filtersUsed = {}
local initial, count0 = {}, {}
for s = 1, ns do initial[s] = redis.call('EXISTS', KEYS[s]) == 1 end
for t = 1, nt do
  local index = KEYS[ns + ne + t]
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  count0[t] = redis.call('ZCARD', index)
end
local function tenant(s) return tonumber(ARGV[9 + 2 * s]) end
local function decide(commit)
  local withdrawn, changed, count, out, refused = {}, {}, {}, {}, false
  for s = 1, ns do withdrawn[s] = initial[s] end
  for t = 1, nt do count[t] = count0[t] end
  local a = 10 + 2 * ns
  local mine = {}
  for i = 1, ne do
    local flag, n, job, filter = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2], tonumber(ARGV[a + 3])
    local o1, o2, o3, o4 = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
    a = a + 8
    local code = 1
    if flag == '-' then
      for j = 0, n - 1 do
        if withdrawn[tonumber(ARGV[a + j])] then code = 0 end
      end
    else
      local w = flag == '0'
      local adds = {}
      for j = 0, n - 1 do
        local s = tonumber(ARGV[a + j])
        if w and not withdrawn[s] then adds[tenant(s)] = (adds[tenant(s)] or 0) + 1 end
      end
      for t, k in pairs(adds) do
        if count[t] + k > quota then code = 3 end
      end
      if code == 3 then
        refused = true
      else
        for j = 0, n - 1 do
          local s = tonumber(ARGV[a + j])
          if withdrawn[s] ~= w then
            changed[s] = true
            count[tenant(s)] = count[tenant(s)] + (w and 1 or -1)
          end
          withdrawn[s] = w
        end
        if w then code = 0 end
      end
    end
    a = a + n
    if code == 1 and commit then
      local key = KEYS[ns + i]
      if redis.call('SET', key, job, 'PX', window, 'NX') then
        mine[key] = true
        local fk = KEYS[ns + ne + nt + filter]
        local seen = redis.call('BITFIELD', fk, 'SET', 'u1', o1, 1, 'SET', 'u1', o2, 1, 'SET', 'u1', o3, 1, 'SET', 'u1', o4, 1)
        filtersUsed[fk] = true
        if seen[1] == 1 and seen[2] == 1 and seen[3] == 1 and seen[4] == 1 then code = 6 end
      elseif mine[key] then
        code = 2
      else
        local holder = redis.call('GET', key)
        if holder and redis.call('EXISTS', jobs .. string.match(holder, '^[^|]*')) == 1 then code = 2 else code = 5 end
      end
    end
    out[i] = code
  end
  return out, refused, withdrawn, changed
end
if whole then
  local out, refused = decide(false)
  if refused then
    for i = 1, ne do
      if out[i] ~= 3 then out[i] = 4 end
    end
    return out
  end
end
local out, _, withdrawn, changed = decide(true)
for fk in pairs(filtersUsed) do redis.call('EXPIRE', fk, filterTtl, 'NX') end
for s in pairs(changed) do
  local index = KEYS[ns + ne + tenant(s)]
  if withdrawn[s] then
    local ttl = tonumber(ARGV[8 + 2 * s])
    redis.call('SET', KEYS[s], '1', 'EX', ttl)
    redis.call('ZADD', index, now + ttl * 1000, KEYS[s])
  else
    redis.call('DEL', KEYS[s])
    redis.call('ZREM', index, KEYS[s])
  end
end
return out`;

/**
 * Admission of events to the queue in Redis: consent per session and user, and the fast path of
 * exactly-once, a claim per (tenant, event) for the dedupe window. The claim only spares the queue
 * and the database obvious repeats; the durable ledger in the worker's statement is what guarantees
 * an event is stored once. Subjects appear in keys only keyed with their tenant's secret
 * (`consentKey`), and consent records expire with
 * the tenant's retention. A tenant keeps at most ANALYTICS_CONSENT_MAX_SUBJECTS records, counted in
 * a per-tenant index of them, so one tenant's withdrawals cannot fill the Redis every tenant needs.
 */
@Injectable()
export class AdmissionStore {
  /** The key prefix of the ingest queue's jobs: a claim's job is in Redis while `<prefix><id>` exists. */
  private readonly jobKeys: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly events: EventsRepository,
    private readonly breaker: PostgresBreaker,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
  ) {
    this.redis.defineCommand('analyticsAdmit', { lua: ADMIT });
    this.jobKeys = `${queuePrefix(config)}:${QueueName.Ingest}:`;
  }

  /**
   * For each event, in order: dropped by consent, claimed by this call, or a duplicate.
   * `jobIds`: per event, the id of the job this call will add it to; its claim names that job.
   * `policy`: the tenant's retention and secret, for all the events or per event (events of several tenants).
   * `whole`: the events are one request's, refused together when one of them is over the consent quota.
   */
  async admit(
    events: StoredEvent[],
    policy: SubjectPolicy | readonly SubjectPolicy[],
    jobIds: readonly string[],
    opts: { whole?: boolean } = {},
  ): Promise<Admission[]> {
    if (events.length === 0) return [];
    const subjects = new Map<string, number>(); // subject key → its position in KEYS, from 1
    const perSubject: (string | number)[] = []; // per subject, its record's lifetime (s) and its tenant's position
    const tenants = new Map<string, number>(); // tenant → its position among the indexes, from 1
    const policyOf = (i: number): SubjectPolicy => ('retentionDays' in policy ? policy : policy[i]);
    const hashed = new Map<string, string>(); // spares keying an id twice in one request
    const subjectKey = (i: number, kind: 's' | 'u', id: string) => {
      const tenantId = events[i].tenant_id;
      const k = `${tenantId}|${kind}|${id}`;
      let key = hashed.get(k);
      if (key === undefined)
        hashed.set(
          k,
          (key = this.redis.key('consent', tenantId, kind, consentKey(policyOf(i).pseudonymSecret, kind, id))),
        );
      return key;
    };
    const now = Date.now();
    const claims = jobIds.map((j) => `${j}|${now}`); // a claim names its job and when it was made
    const perEvent: (string | number)[] = [];
    const filters = new Map<string, number>(); // seen-filter key → its position among the filters, from 1
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const own: string[] = [];
      if (e.session_id) own.push(subjectKey(i, 's', e.session_id));
      if (e.user_id) own.push(subjectKey(i, 'u', e.user_id));
      const consent = consentOf(e);
      const fk = this.redis.key('seen', e.tenant_id, e.occurred_at.slice(0, 10));
      let filter = filters.get(fk);
      if (filter === undefined) filters.set(fk, (filter = filters.size + 1));
      perEvent.push(
        consent === true ? '1' : consent === false ? '0' : '-',
        own.length,
        claims[i],
        filter,
        ...filterBits(e, this.config.ingestion.seenFilterBits),
      );
      for (const key of own) {
        let at = subjects.get(key);
        if (at === undefined) {
          subjects.set(key, (at = subjects.size + 1));
          let t = tenants.get(e.tenant_id);
          if (t === undefined) tenants.set(e.tenant_id, (t = tenants.size + 1));
          perSubject.push(policyOf(i).retentionDays * 86400, t);
        }
        perEvent.push(at);
      }
    }
    const indexes = [...tenants.keys()].map((t) => this.redis.key('consent-subjects', t));
    const keys = [...subjects.keys(), ...events.map((e) => this.dedupeKey(e)), ...indexes, ...filters.keys()];
    const replies = await (
      this.redis as unknown as { analyticsAdmit(numKeys: number, ...args: (string | number)[]): Promise<number[]> }
    ).analyticsAdmit(
      keys.length,
      ...keys,
      subjects.size,
      events.length,
      tenants.size,
      this.config.ingestion.dedupeWindowMs,
      this.config.privacy.consentMaxSubjects,
      now,
      opts.whole ? '1' : '0',
      this.jobKeys,
      Math.max(...events.map((_, i) => policyOf(i).retentionDays)) * 86400 + 2 * 86400,
      ...perSubject,
      ...perEvent,
    );
    return this.confirm(events, claims, replies);
  }

  /**
   * Settles claims (code 5) held by a request that may still be adding its job: polls each claim
   * and its job until the job is in Redis (a duplicate), the claim is given back or changes hands
   * (this call claims it, or waits for the new holder), or the holder's enqueue has timed out (then
   * the ledger decides, in confirm). Bounded by the enqueue timeout; rare: only concurrent repeats.
   */
  private async awaitInFlight(events: StoredEvent[], racing: number[], replies: number[]): Promise<void> {
    let pending = racing;
    for (let round = 0; pending.length && round < IN_FLIGHT_POLLS; round++) {
      const values = await Promise.all(pending.map((i) => this.redis.get(this.dedupeKey(events[i]))));
      const exists = await Promise.all(
        values.map((v) => (v ? this.redis.exists(this.jobKeys + v.split('|')[0]) : Promise.resolve(0))),
      );
      const next: number[] = [];
      pending.forEach((i, k) => {
        const v = values[k];
        if (v && exists[k]) replies[i] = 2;
        // Given back, or held longer than an enqueue may take (its request gave up or died): the
        // ledger decides, then this call claims it. Otherwise wait for the holder a little longer.
        else if (v && Date.now() - Number(v.split('|')[1] ?? 0) <= IN_FLIGHT_MS) next.push(i);
      });
      pending = next;
      if (pending.length) await new Promise((r) => setTimeout(r, IN_FLIGHT_POLL_MS));
    }
  }

  /**
   * Settles the events Redis could not decide alone, with the durable ledger: a claim whose job is
   * no longer in Redis (5: its job was stored and removed, or never added because the request died
   * between the claim and the enqueue), and a fresh claim of an id the seen-filter may have met
   * before (6: a resend after the dedupe window, or a false positive of the filter). Stored → a
   * duplicate; not stored → claimed for this call's job. So `duplicate` is answered only for an
   * event that is stored or sits in a job that is in Redis.
   */
  private async confirm(events: StoredEvent[], claims: readonly string[], replies: number[]): Promise<Admission[]> {
    // A claim whose job is not in Redis yet may belong to a request still adding it: wait for that
    // job (or for the claim to be given back) until the request's enqueue would have timed out.
    const racing = replies.flatMap((r, i) => (r === 5 ? [i] : []));
    if (racing.length) await this.awaitInFlight(events, racing, replies);
    const open = replies.flatMap((r, i) => (r === 5 || r === 6 ? [i] : []));
    let ledgerHits = 0;
    if (open.length) {
      let stored: Set<string>;
      try {
        stored = await this.ledger(open.map((i) => events[i]));
      } catch (err) {
        // Undecided: give back what this call claimed, so that the retry finds no claim of ours.
        await this.release(events.filter((_, i) => replies[i] === 1 || replies[i] === 6)).catch(() => undefined);
        throw new LedgerUnavailable((err as Error).message);
      }
      const reclaim: number[] = [];
      for (const i of open) {
        if (stored.has(`${events[i].tenant_id}|${events[i].event_id}`)) {
          replies[i] = 2;
          ledgerHits++;
        } else {
          if (replies[i] === 5) reclaim.push(i);
          replies[i] = 1;
        }
      }
      if (reclaim.length) {
        const p = this.redis.pipeline();
        for (const i of reclaim)
          p.set(this.dedupeKey(events[i]), claims[i], 'PX', this.config.ingestion.dedupeWindowMs);
        await p.exec();
      }
    }
    const answers = replies.map((r) => CODES[r]);
    const duplicates = answers.filter((a) => a === 'duplicate').length;
    this.telemetry.dedupeHits(duplicates - ledgerHits, ledgerHits);
    return answers;
  }

  /** Gives claims back, so that a client's retry after a failed enqueue is not taken for a duplicate. */
  async release(events: EventKey[]): Promise<void> {
    if (events.length === 0) return;
    await this.redis.del(...events.map((e) => this.dedupeKey(e)));
  }

  private ledger(events: StoredEvent[]): Promise<Set<string>> {
    return this.breaker.read(() => this.events.inLedger(events, LEDGER_TIMEOUT_MS));
  }

  private dedupeKey(e: EventKey): string {
    return this.redis.key('dedupe', e.tenant_id, e.event_id);
  }
}

/** The ledger could not be asked; the events it had to decide are neither accepted nor duplicates. */
export class LedgerUnavailable extends Error {}

/**
 * The seen-filter's bits for an event: a Bloom filter per tenant and day of occurred_at (a resend
 * carries the same occurred_at), four bits of `size` from a hash of the id. A bit pattern all set
 * means "maybe claimed before", which the ledger settles; any bit clear means never claimed.
 */
export function filterBits(e: EventKey, size: number): number[] {
  const h = hash('sha1', e.event_id, 'buffer');
  return [h.readUInt32BE(0) % size, h.readUInt32BE(4) % size, h.readUInt32BE(8) % size, h.readUInt32BE(12) % size];
}

function consentOf(e: StoredEvent): boolean | undefined {
  const c = (e.context?.consent as { analytics?: unknown } | undefined)?.analytics;
  return typeof c === 'boolean' ? c : undefined;
}
