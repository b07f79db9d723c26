import { EventBatcher } from './event-batcher';

describe('EventBatcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('groups additions that arrive within the linger time into one flush, in order', async () => {
    const flushes: number[][] = [];
    const b = new EventBatcher<number>(async (items) => { flushes.push(items); }, { maxItems: 100, lingerMs: 5 });
    const done = Promise.all([b.add([1]), b.add([2, 3]), b.add([4])]);
    expect(flushes).toEqual([]);
    jest.advanceTimersByTime(5);
    await done;
    expect(flushes).toEqual([[1, 2, 3, 4]]);
  });

  it('flushes at once when the group reaches its size limit', async () => {
    const flushes: number[][] = [];
    const b = new EventBatcher<number>(async (items) => { flushes.push(items); }, { maxItems: 3, lingerMs: 1000 });
    await Promise.all([b.add([1, 2]), b.add([3])]);
    expect(flushes).toEqual([[1, 2, 3]]);
    const later = b.add([4]);
    jest.advanceTimersByTime(1000);
    await later;
    expect(flushes).toEqual([[1, 2, 3], [4]]);
  });

  it('rejects every caller of a failed flush and keeps working afterwards', async () => {
    let fail = true;
    const b = new EventBatcher<number>(async () => { if (fail) throw new Error('redis down'); }, { maxItems: 10, lingerMs: 1 });
    const a1 = b.add([1]);
    const a2 = b.add([2]);
    jest.advanceTimersByTime(1);
    await expect(a1).rejects.toThrow('redis down');
    await expect(a2).rejects.toThrow('redis down');
    fail = false;
    const a3 = b.add([3]);
    jest.advanceTimersByTime(1);
    await expect(a3).resolves.toBeUndefined();
  });
});
