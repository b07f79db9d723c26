import { storedEvent } from '../../../test/support/stored-event';
import { StoredEvent } from '../contracts/stored-event';
import { daysFrom, utcDay } from './partition-days';
import { uniqueByEvent } from './storage.service';

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
