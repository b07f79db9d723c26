import { hash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { StoredEvent } from '../contracts/stored-event';
import { RedisClient } from '../../common/redis.provider';
import { AnalyticsConfig } from '../config/analytics-config';

/**
 * What Redis says of one event: consent drops it, this request claimed it, it was claimed before,
 * it would record a consent withdrawal beyond its tenant's quota (ANALYTICS_CONSENT_MAX_SUBJECTS),
 * or it was not decided because its request (a batch, decided whole) holds such an event.
 */
export type Admission = 'dropped' | 'claimed' | 'duplicate' | 'over-quota' | 'not-decided';
const CODES: Admission[] = ['dropped', 'claimed', 'duplicate', 'over-quota', 'not-decided'];

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
 * keys, scored by when each record expires). ARGV: subject count, event count, tenant count,
 * dedupe window (ms), the quota of records per tenant, now (ms), whole ('1': the call is one
 * request, decided whole), then per subject the lifetime of its consent record (s, its tenant's
 * retention) and its tenant's position, then per event its consent flag ('1' given, '0' refused,
 * '-' none), its subject count and the positions of its subjects in KEYS.
 *
 * Consent: an explicit flag decides the event and records the withdrawal (or its end) for the
 * event's session and user; an event without one is dropped while any of its subjects has
 * withdrawn; a decision applies to the events after it in the same call. The records changed are
 * written once at the end. Quota: a withdrawal that would make its tenant keep more than the quota
 * of records is not recorded and its event is answered 3 (over quota), not dropped silently: the
 * record is what drops the subject's later events, so the client must know it was not kept. With
 * whole set, such an event makes the script change nothing at all and answer 3 for it and 4 for
 * every other event. Dedupe: an allowed event is claimed with SET NX PX; a repeat inside the call
 * loses to its first allowed occurrence. One call may carry several requests' events (single
 * events are admitted together when they are queued): it decides them as calls one after another
 * in that order would. Returns per event 0 dropped, 1 claimed, 2 duplicate, 3 over quota, 4 not
 * decided. (All keys in one script: fine on one Redis, not on a Redis Cluster.)
 */
const ADMIT = `
local ns, ne, nt = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, quota, now, whole = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local initial, count0 = {}, {}
for s = 1, ns do initial[s] = redis.call('EXISTS', KEYS[s]) == 1 end
for t = 1, nt do
  local index = KEYS[ns + ne + t]
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  count0[t] = redis.call('ZCARD', index)
end
local function tenant(s) return tonumber(ARGV[7 + 2 * s]) end
local function decide(commit)
  local withdrawn, changed, count, out, refused = {}, {}, {}, {}, false
  for s = 1, ns do withdrawn[s] = initial[s] end
  for t = 1, nt do count[t] = count0[t] end
  local a = 8 + 2 * ns
  for i = 1, ne do
    local flag, n = ARGV[a], tonumber(ARGV[a + 1])
    a = a + 2
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
    if code == 1 and commit and not redis.call('SET', KEYS[ns + i], '1', 'PX', window, 'NX') then code = 2 end
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
for s in pairs(changed) do
  local index = KEYS[ns + ne + tenant(s)]
  if withdrawn[s] then
    local ttl = tonumber(ARGV[6 + 2 * s])
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
 * an event is stored once. Subjects appear in keys only as hashes, and consent records expire with
 * the tenant's retention. A tenant keeps at most ANALYTICS_CONSENT_MAX_SUBJECTS records, counted in
 * a per-tenant index of them, so one tenant's withdrawals cannot fill the Redis every tenant needs.
 */
@Injectable()
export class AdmissionStore {
  constructor(
    private readonly redis: RedisClient,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {
    this.redis.defineCommand('analyticsAdmit', { lua: ADMIT });
  }

  /**
   * For each event, in order: dropped by consent, claimed by this call, or a duplicate.
   * `retentionDays`: the tenant's retention, for all the events or per event (events of several tenants).
   * `whole`: the events are one request's, refused together when one of them is over the consent quota.
   */
  async admit(
    events: StoredEvent[],
    retentionDays: number | readonly number[],
    opts: { whole?: boolean } = {},
  ): Promise<Admission[]> {
    if (events.length === 0) return [];
    const subjects = new Map<string, number>(); // subject key → its position in KEYS, from 1
    const perSubject: (string | number)[] = []; // per subject, its record's lifetime (s) and its tenant's position
    const tenants = new Map<string, number>(); // tenant → its position among the indexes, from 1
    const hashed = new Map<string, string>(); // spares hashing an id twice in one request
    const subjectKey = (tenantId: string, kind: 's' | 'u', id: string) => {
      const k = `${tenantId}|${kind}|${id}`;
      let key = hashed.get(k);
      if (key === undefined)
        hashed.set(k, (key = this.redis.key('consent', tenantId, kind, hash('sha256', id, 'hex').slice(0, 32))));
      return key;
    };
    const perEvent: (string | number)[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const own: string[] = [];
      if (e.session_id) own.push(subjectKey(e.tenant_id, 's', e.session_id));
      if (e.user_id) own.push(subjectKey(e.tenant_id, 'u', e.user_id));
      const consent = consentOf(e);
      perEvent.push(consent === true ? '1' : consent === false ? '0' : '-', own.length);
      for (const key of own) {
        let at = subjects.get(key);
        if (at === undefined) {
          subjects.set(key, (at = subjects.size + 1));
          let t = tenants.get(e.tenant_id);
          if (t === undefined) tenants.set(e.tenant_id, (t = tenants.size + 1));
          perSubject.push((typeof retentionDays === 'number' ? retentionDays : retentionDays[i]) * 86400, t);
        }
        perEvent.push(at);
      }
    }
    const indexes = [...tenants.keys()].map((t) => this.redis.key('consent-subjects', t));
    const keys = [...subjects.keys(), ...events.map((e) => this.dedupeKey(e)), ...indexes];
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
      Date.now(),
      opts.whole ? '1' : '0',
      ...perSubject,
      ...perEvent,
    );
    return replies.map((r) => CODES[r]);
  }

  /** Gives claims back, so that a client's retry after a failed enqueue is not taken for a duplicate. */
  async release(events: EventKey[]): Promise<void> {
    if (events.length === 0) return;
    await this.redis.del(...events.map((e) => this.dedupeKey(e)));
  }

  private dedupeKey(e: EventKey): string {
    return this.redis.key('dedupe', e.tenant_id, e.event_id);
  }
}

function consentOf(e: StoredEvent): boolean | undefined {
  const c = (e.context?.consent as { analytics?: unknown } | undefined)?.analytics;
  return typeof c === 'boolean' ? c : undefined;
}
