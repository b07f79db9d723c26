import { AnalyticsConfig } from '../config/analytics-config';
import { RedisClient } from '../../app/redis.provider';
import { DedupeStore } from './dedupe.store';

/** An in-memory stand-in for the few Redis calls the store makes (SET NX PX in a pipeline, DEL). */
class FakeRedis {
  readonly data = new Map<string, { value: string; ttl: number }>();
  failNext = false;
  key(...parts: string[]) { return `p:${parts.join(':')}`; }
  pipeline() {
    const ops: [string, string, number][] = [];
    const p = {
      set: (k: string, v: string, _px: string, ttl: number, _nx: string) => { ops.push([k, v, ttl]); return p; },
      exec: async () => {
        if (this.failNext) return ops.map(() => [new Error('READONLY'), null]);
        return ops.map(([k, v, ttl]) => {
          if (this.data.has(k)) return [null, null];
          this.data.set(k, { value: v, ttl });
          return [null, 'OK'];
        });
      },
    };
    return p;
  }
  async del(...keys: string[]) { keys.forEach((k) => this.data.delete(k)); return keys.length; }
}

const config = AnalyticsConfig.fromEnvironment({ ANALYTICS_DEDUPE_WINDOW_MS: '60000' });
const e = (tenant: string, id: string) => ({ tenant_id: tenant, event_id: id });

describe('DedupeStore', () => {
  let redis: FakeRedis;
  let store: DedupeStore;
  beforeEach(() => {
    redis = new FakeRedis();
    store = new DedupeStore(redis as unknown as RedisClient, config);
  });

  it('claims each (tenant, event) once, the first occurrence winning inside one call', async () => {
    expect(await store.claim([e('t1', 'a'), e('t1', 'b'), e('t1', 'a'), e('t2', 'a')])).toEqual([true, true, false, true]);
    expect(await store.claim([e('t1', 'b'), e('t1', 'c')])).toEqual([false, true]);
    expect([...redis.data.keys()]).toEqual(['p:dedupe:t1:a', 'p:dedupe:t1:b', 'p:dedupe:t2:a', 'p:dedupe:t1:c']);
    expect(redis.data.get('p:dedupe:t1:a')!.ttl).toBe(60000);
  });

  it('gives claims back so that a retry is accepted again', async () => {
    await store.claim([e('t1', 'a'), e('t1', 'b')]);
    await store.release([e('t1', 'a')]);
    expect(await store.claim([e('t1', 'a'), e('t1', 'b')])).toEqual([true, false]);
  });

  it('makes no call for an empty list and surfaces a Redis error', async () => {
    expect(await store.claim([])).toEqual([]);
    redis.failNext = true;
    await expect(store.claim([e('t1', 'z')])).rejects.toThrow('READONLY');
  });
});
