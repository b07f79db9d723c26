import { AnalyticsConfig } from '../config/analytics-config';
import { RedisClient } from '../../app/redis.provider';
import { DedupeStore } from './dedupe.store';

/**
 * An in-memory stand-in for the Redis calls the store makes: its claim script (SET NX PX on each
 * key, 1 where set) and DEL. The script itself runs against the real Redis in the integration tests.
 */
class FakeRedis {
  readonly data = new Map<string, { value: string; ttl: number }>();
  readonly scripts = new Set<string>();
  failNext = false;
  key(...parts: string[]) { return `p:${parts.join(':')}`; }
  defineCommand(name: string) { this.scripts.add(name); }
  async analyticsClaim(numKeys: number, ...args: (string | number)[]) {
    if (this.failNext) throw new Error('READONLY');
    const keys = args.slice(0, numKeys) as string[];
    const ttl = Number(args[numKeys]);
    return keys.map((k) => {
      if (this.data.has(k)) return 0;
      this.data.set(k, { value: '1', ttl });
      return 1;
    });
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
    expect(redis.scripts.has('analyticsClaim')).toBe(true);
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
