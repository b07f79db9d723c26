import { storedEvent } from '../../../test/support/stored-event';
import { StoredEvent } from '../contracts/stored-event';
import { daysFrom, utcDay } from './partition-days';
import { AnalyticsConfig } from '../config/analytics-config';
import { RollupService } from '../rollups/rollup.service';
import { EventStore } from './event-store';
import { Telemetry } from '../observability/telemetry.service';
import { eventDays, StorageService, uniqueByEvent } from './storage.service';

const ev = (tenant: string, id: string, name = 'a.b'): StoredEvent =>
  storedEvent({ event_id: id, tenant_id: tenant, event_name: name, occurred_at: '2026-11-28T00:00:00Z' });

describe('uniqueByEvent', () => {
  it('keeps the first occurrence of each (tenant, event) pair and keeps tenants apart', () => {
    const out = uniqueByEvent([ev('t1', 'e1', 'first'), ev('t2', 'e1'), ev('t1', 'e1', 'second'), ev('t1', 'e2')]);
    expect(out.map((e) => `${e.tenant_id}/${e.event_id}/${e.event_name}`)).toEqual([
      't1/e1/first',
      't2/e1/a.b',
      't1/e2/a.b',
    ]);
  });
});

describe('partition days', () => {
  it('takes the UTC day of an instant, whatever its offset', () => {
    expect(utcDay('2026-11-28T23:30:00-02:00')).toBe('2026-11-29');
    expect(utcDay('2026-11-28T00:30:00+01:00')).toBe('2026-11-27');
  });
  it('reads the day of a UTC time from its text, the same day a Date gives, at every hour and precision', () => {
    const start = Date.UTC(2024, 1, 28, 0, 0, 0, 0); // across a leap day, a month end and midnights
    for (let t = start; t < start + 3 * 86_400_000; t += 1_234_567) {
      const iso = new Date(t).toISOString();
      for (const text of [
        iso,
        iso.replace('.', '.000').replace('T', ' '),
        iso.replace(/\.\d+Z$/, 'Z'),
        iso.toLowerCase(),
      ]) {
        expect(utcDay(text)).toBe(new Date(text.toUpperCase().replace(' ', 'T')).toISOString().slice(0, 10));
      }
    }
    expect(utcDay('2026-12-31T23:59:59.999999Z')).toBe('2026-12-31');
  });

  it('lists consecutive days across month and year ends', () => {
    expect(daysFrom(new Date('2026-12-30T18:00:00Z'), 4)).toEqual([
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
      '2027-01-02',
    ]);
  });
});

/**
 * A repository whose insert behaves as the ledger statement does: all or nothing, refused as a whole
 * when one event holds a value Postgres refuses, each (tenant, event) stored once across calls.
 */
function fakeRepository(opts: { refuse: (e: StoredEvent) => string | null; failAtCall?: number; failure?: Error }) {
  const ledger = new Set<string>();
  const calls: number[] = [];
  const repo = {
    listPartitionDays: jest.fn(() => Promise.resolve(['2026-11-28'])),
    ensurePartition: jest.fn((day: string) =>
      !Number.isNaN(Date.parse(`${day}T00:00:00Z`)) && new Date(`${day}T00:00:00Z`).toISOString().startsWith(day)
        ? Promise.resolve()
        : Promise.reject(Object.assign(new Error(`date/time field value out of range: "${day}"`), { code: '22008' })),
    ),
    insertFresh: jest.fn((events: StoredEvent[]) => {
      calls.push(events.length);
      if (calls.length - 1 === opts.failAtCall) return Promise.reject(opts.failure ?? new Error('failure'));
      for (const e of events) {
        const why = opts.refuse(e);
        if (why) return Promise.reject(Object.assign(new Error(why), { code: '22P02' }));
      }
      const fresh = events.filter((e) => !ledger.has(`${e.tenant_id}/${e.event_id}`));
      for (const e of fresh) ledger.add(`${e.tenant_id}/${e.event_id}`);
      return Promise.resolve(fresh.length);
    }),
  };
  const service = new StorageService(
    repo as unknown as EventStore,
    { enabled: false } as RollupService,
    { worker: { partitionDaysAhead: 1 } } as AnalyticsConfig,
    {
      span: (_name: string, fn: (span: null) => unknown) => fn(null),
      onScrape: () => undefined,
    } as unknown as Telemetry,
  );
  return { service, repo, ledger, calls };
}

const bad = (e: StoredEvent) =>
  e.event_id.startsWith('urn:') ? `invalid input syntax for type uuid: "${e.event_id}"` : null;
const job = (n: number, badAt: number[], tenant = (i: number) => (badAt.includes(i) ? 'A' : 'B')) =>
  Array.from({ length: n }, (_, i) => ev(tenant(i), badAt.includes(i) ? `urn:uuid:${i}` : `id-${i}`));

describe('StorageService.persist isolates the events Postgres refuses', () => {
  it('stores every other event once and refuses the bad one with its reason, in 1 + 2·log2(N) statements', async () => {
    const { service, ledger, calls } = fakeRepository({ refuse: bad });
    const out = await service.persist(job(64, [37]));
    expect(out.inserted).toBe(63);
    expect(out.duplicates).toBe(0);
    expect(out.refused).toEqual([
      {
        event: expect.objectContaining({ tenant_id: 'A', event_id: 'urn:uuid:37' }),
        error: {
          pointer: '',
          keyword: 'storage',
          message: 'invalid input syntax for type uuid: "urn:uuid:37" (SQLSTATE 22P02)',
        },
      },
    ]);
    expect(ledger.size).toBe(63);
    // the whole job, then at each of the 6 levels the bad half and the good half (depth first)
    expect(calls).toEqual([64, 32, 32, 16, 8, 4, 4, 2, 1, 1, 2, 8, 16]);
  });

  it('splits the same way every time, and a retried job stores nothing twice', async () => {
    const { service, ledger, calls } = fakeRepository({ refuse: bad });
    const events = job(10, [0, 9]);
    const first = await service.persist(events);
    const firstCalls = [...calls];
    calls.length = 0;
    const again = await service.persist(events);
    expect(first).toMatchObject({ inserted: 8, duplicates: 0 });
    expect(again).toMatchObject({ inserted: 0, duplicates: 8 });
    expect(again.refused.map((r) => r.event.event_id)).toEqual(['urn:uuid:0', 'urn:uuid:9']);
    expect(first.refused.map((r) => r.event.event_id)).toEqual(['urn:uuid:0', 'urn:uuid:9']);
    expect(calls).toEqual(firstCalls);
    expect(ledger.size).toBe(8);
  });

  it('refuses every event when all are bad, one statement each after the splits, and stores none', async () => {
    const { service, calls } = fakeRepository({ refuse: bad });
    const out = await service.persist(job(4, [0, 1, 2, 3]));
    expect(out).toMatchObject({ inserted: 0, duplicates: 0 });
    expect(out.refused).toHaveLength(4);
    expect(calls).toEqual([4, 2, 1, 1, 2, 1, 1]);
  });

  it.each([
    ['a deadlock', '40P01'],
    ['a serialization failure', '40001'],
    ['a server shutdown', '57P01'],
    ['too many connections', '53300'],
    ['a missing partition on a stale partition list', '23514'],
  ])('throws on %s, so the queue retries the whole job; the retry stores each event once', async (_, code) => {
    const failure = Object.assign(new Error(`transient ${code}`), { code });
    const { service, ledger, calls } = fakeRepository({ refuse: () => null, failAtCall: 1, failure });
    // an earlier job: the partition list is read then, and cached for the next jobs
    expect(await service.persist([ev('B', 'earlier')])).toEqual({ inserted: 1, duplicates: 0, refused: [] });
    const events = job(8, []);
    await expect(service.persist(events)).rejects.toBe(failure);
    expect(await service.persist(events)).toEqual({ inserted: 8, duplicates: 0, refused: [] });
    expect(calls).toEqual([1, 8, 8]); // no split: the failed statement, then the retry
    expect(ledger.size).toBe(9);
  });

  it('refuses an event whose occurred_at has no day, or a day Postgres refuses, before any statement', async () => {
    const { service, calls } = fakeRepository({ refuse: () => null });
    const events = [
      ev('B', 'ok'),
      storedEvent({ tenant_id: 'A', event_id: 'x', occurred_at: 'not a time' }),
      storedEvent({ tenant_id: 'A', event_id: 'y', occurred_at: '2026-02-30T10:00:00Z' }),
    ];
    const out = await service.persist(events);
    expect(out.inserted).toBe(1);
    expect(out.refused.map((r) => [r.event.event_id, r.error.message])).toEqual([
      ['x', 'occurred_at "not a time" is not a date-time the worker can place in a partition'],
      ['y', 'date/time field value out of range: "2026-02-30" (SQLSTATE 22008)'],
    ]);
    expect(calls).toEqual([1]);
  });
});

describe('eventDays', () => {
  it('adds the next day when Postgres may round the time across midnight (more than microseconds)', () => {
    expect(eventDays('2026-11-28T23:59:59.9999999Z')).toEqual(['2026-11-28', '2026-11-29']);
    expect(eventDays('2026-11-28T23:59:59.999999Z')).toEqual(['2026-11-28']);
    expect(eventDays('2026-11-28T10:00:00.1234567Z')).toEqual(['2026-11-28']);
    expect(eventDays(42)).toBeNull();
    expect(eventDays('yesterday')).toBeNull();
  });
});
