import { EventBatcher } from './event-batcher';

/** A batcher whose flushes are recorded and answer undefined for every item. */
function recording(opts: { maxItems: number; lingerMs: number }) {
  const flushes: number[][] = [];
  const b = new EventBatcher<number>((items) => {
    flushes.push(items);
    return Promise.resolve(items.map(() => undefined));
  }, opts);
  return { flushes, b };
}

describe('EventBatcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sends the first addition of a quiet stream at once, with whatever arrived in the same turn', async () => {
    const { flushes, b } = recording({ maxItems: 100, lingerMs: 5 });
    const done = Promise.all([b.add([1]), b.add([2, 3])]);
    expect(flushes).toEqual([]);
    jest.advanceTimersByTime(0); // the end of this turn of the event loop, no linger
    await done;
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('groups additions that arrive within the linger time after a flush into one flush, in order, when the linger ends', async () => {
    const { flushes, b } = recording({ maxItems: 100, lingerMs: 5 });
    const first = b.add([1]);
    jest.advanceTimersByTime(0);
    await first;
    jest.advanceTimersByTime(2);
    const later = Promise.all([b.add([2]), b.add([3, 4])]);
    jest.advanceTimersByTime(1);
    const last = b.add([5]);
    jest.advanceTimersByTime(1); // 4 ms after the first flush
    expect(flushes).toEqual([[1]]);
    jest.advanceTimersByTime(1); // 5 ms after it
    await Promise.all([later, last]);
    expect(flushes).toEqual([[1], [2, 3, 4, 5]]);
    // Quiet again for longer than the linger: the next one goes at once.
    jest.advanceTimersByTime(20);
    const quiet = b.add([6]);
    jest.advanceTimersByTime(0);
    await quiet;
    expect(flushes).toEqual([[1], [2, 3, 4, 5], [6]]);
  });

  it('flushes at once when the group reaches its size limit', async () => {
    const { flushes, b } = recording({ maxItems: 3, lingerMs: 1000 });
    await Promise.all([b.add([1, 2]), b.add([3])]);
    expect(flushes).toEqual([[1, 2, 3]]);
    const later = b.add([4]);
    jest.advanceTimersByTime(999);
    expect(flushes).toEqual([[1, 2, 3]]);
    jest.advanceTimersByTime(1);
    await later;
    expect(flushes).toEqual([[1, 2, 3], [4]]);
  });

  it('rejects every caller of a failed flush and keeps working afterwards', async () => {
    let fail = true;
    const b = new EventBatcher<number>(
      (items) => (fail ? Promise.reject(new Error('redis down')) : Promise.resolve(items.map(() => undefined))),
      { maxItems: 10, lingerMs: 1 },
    );
    const a1 = b.add([1]);
    const a2 = b.add([2]);
    jest.advanceTimersByTime(1);
    await expect(a1).rejects.toThrow('redis down');
    await expect(a2).rejects.toThrow('redis down');
    fail = false;
    const a3 = b.add([3]);
    jest.advanceTimersByTime(1);
    await expect(a3).resolves.toEqual([undefined]);
  });

  it('gives each caller the results of its own items, in order', async () => {
    const b = new EventBatcher<number, string>((items) => Promise.resolve(items.map((n) => `r${n}`)), {
      maxItems: 100,
      lingerMs: 5,
    });
    const answers = Promise.all([b.add([1]), b.add([2, 3]), b.add([4])]);
    jest.advanceTimersByTime(0);
    expect(await answers).toEqual([['r1'], ['r2', 'r3'], ['r4']]);
  });

  it('drain() sends what waits for the linger at once, says how many items waited, and sends each later addition without lingering', async () => {
    const { flushes, b } = recording({ maxItems: 100, lingerMs: 1000 });
    const first = b.add([1]);
    jest.advanceTimersByTime(0);
    await first;
    const waiting = Promise.all([b.add([2]), b.add([3, 4])]);
    expect(flushes).toEqual([[1]]);
    expect(b.drain()).toBe(3);
    await waiting;
    expect(flushes).toEqual([[1], [2, 3, 4]]);
    const later = b.add([5]);
    expect(flushes).toEqual([[1], [2, 3, 4], [5]]); // no timer needed
    await later;
    expect(b.drain()).toBe(0);
    expect(flushes).toHaveLength(3);
  });
});
