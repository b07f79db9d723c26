import { hash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { StoredEvent } from '../contracts/stored-event';
import { RedisClient } from '../../common/redis.provider';
import { AnalyticsConfig } from '../config/analytics-config';

/** What Redis says of one event: consent drops it, this request claimed it, or it was claimed before. */
export type Admission = 'dropped' | 'claimed' | 'duplicate';
const CODES: Admission[] = ['dropped', 'claimed', 'duplicate'];

export interface EventKey {
  tenant_id: string;
  event_id: string;
}

/**
 * Consent, then the dedupe claim, for each event in order, in one script: one round trip for a
 * request, where asking consent and claiming separately took two.
 *
 * KEYS: the call's distinct consent subjects (withdrawn while their key exists), then one dedupe
 * key per event. ARGV: subject count, event count, dedupe window (ms), then per subject the lifetime
 * of its consent record (s, its tenant's retention), then per event its consent flag ('1' given,
 * '0' refused, '-' none), its subject count and the positions of its subjects in KEYS.
 *
 * Consent: an explicit flag decides the event and records the withdrawal (or its end) for the
 * event's session and user; an event without one is dropped while any of its subjects has
 * withdrawn; a decision applies to the events after it in the same call. The records changed are
 * written once at the end. Dedupe: an allowed event is claimed with SET NX PX; a repeat inside the
 * call loses to its first allowed occurrence. One call may carry several requests' events (single
 * events are admitted together when they are queued): it decides them as calls one after another
 * in that order would. Returns per event 0 dropped, 1 claimed, 2 duplicate.
 * (All keys in one script: fine on one Redis, not on a Redis Cluster.)
 */
const ADMIT = `
local ns, ne = tonumber(ARGV[1]), tonumber(ARGV[2])
local window = ARGV[3]
local withdrawn, changed, out = {}, {}, {}
for s = 1, ns do withdrawn[s] = redis.call('EXISTS', KEYS[s]) == 1 end
local a = 4 + ns
for i = 1, ne do
  local flag, n = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local allowed = true
  if flag == '-' then
    for j = 0, n - 1 do
      if withdrawn[tonumber(ARGV[a + j])] then allowed = false end
    end
  else
    local w = flag == '0'
    for j = 0, n - 1 do
      local s = tonumber(ARGV[a + j])
      if withdrawn[s] ~= w then changed[s] = true end
      withdrawn[s] = w
    end
    allowed = not w
  end
  a = a + n
  if not allowed then out[i] = 0
  elseif redis.call('SET', KEYS[ns + i], '1', 'PX', window, 'NX') then out[i] = 1
  else out[i] = 2 end
end
for s in pairs(changed) do
  if withdrawn[s] then redis.call('SET', KEYS[s], '1', 'EX', ARGV[3 + s]) else redis.call('DEL', KEYS[s]) end
end
return out`;

/**
 * Admission of events to the queue in Redis: consent per session and user, and the fast path of
 * exactly-once, a claim per (tenant, event) for the dedupe window. The claim only spares the queue
 * and the database obvious repeats; the durable ledger in the worker's statement is what guarantees
 * an event is stored once. Subjects appear in keys only as hashes, and consent records expire with
 * the tenant's retention.
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
   */
  async admit(events: StoredEvent[], retentionDays: number | readonly number[]): Promise<Admission[]> {
    if (events.length === 0) return [];
    const subjects = new Map<string, number>(); // subject key → its position in KEYS, from 1
    const ttls: number[] = []; // per subject, its consent record's lifetime in seconds
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
          ttls.push((typeof retentionDays === 'number' ? retentionDays : retentionDays[i]) * 86400);
        }
        perEvent.push(at);
      }
    }
    const keys = [...subjects.keys(), ...events.map((e) => this.dedupeKey(e))];
    const replies = await (
      this.redis as unknown as { analyticsAdmit(numKeys: number, ...args: (string | number)[]): Promise<number[]> }
    ).analyticsAdmit(
      keys.length,
      ...keys,
      subjects.size,
      events.length,
      this.config.ingestion.dedupeWindowMs,
      ...ttls,
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
