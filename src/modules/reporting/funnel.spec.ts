import { FunnelOptions, summarizeFunnel, UnitEvent, walkUnit } from './funnel';

const H = 3_600_000;
const opts = (steps: string[], strict = false) => ({ steps, from: 0, to: 10 * H, windowMs: H, strict });
const ev = (name: string, at: number) => ({ name, at });

describe('funnel walk', () => {
  it('follows ordered steps within the window, other events allowed in between', () => {
    expect(
      walkUnit(
        [ev('view', 0), ev('search', 10), ev('cart', 20), ev('checkout', 30)],
        opts(['view', 'cart', 'checkout']),
      ),
    ).toEqual([0, 20, 30]);
  });
  it('stops at a step outside the window from the first step', () => {
    expect(
      walkUnit([ev('view', 0), ev('cart', 10), ev('checkout', H + 1)], opts(['view', 'cart', 'checkout'])),
    ).toEqual([0, 10]);
  });
  it('tries every start and keeps the chain that gets furthest', () => {
    expect(
      walkUnit(
        [ev('view', 0), ev('view', 2 * H), ev('cart', 2 * H + 5), ev('checkout', 2 * H + 9)],
        opts(['view', 'cart', 'checkout']),
      ),
    ).toEqual([2 * H, 2 * H + 5, 2 * H + 9]);
  });
  it('needs a repeated event for a repeated step', () => {
    expect(walkUnit([ev('view', 0), ev('checkout', 5)], opts(['view', 'view', 'checkout']))).toEqual([0]);
    expect(walkUnit([ev('view', 0), ev('view', 3), ev('checkout', 5)], opts(['view', 'view', 'checkout']))).toEqual([
      0, 3, 5,
    ]);
  });
  it('counts an equal timestamp as later when the event comes later', () => {
    expect(walkUnit([ev('view', 7), ev('cart', 7)], opts(['view', 'cart']))).toEqual([7, 7]);
  });
  it('strict order allows no other event in between', () => {
    expect(walkUnit([ev('view', 0), ev('search', 1), ev('cart', 2)], opts(['view', 'cart'], true))).toEqual([0]);
    expect(walkUnit([ev('view', 0), ev('cart', 2)], opts(['view', 'cart'], true))).toEqual([0, 2]);
  });
  it('starts only inside the range', () => {
    expect(walkUnit([ev('view', 11 * H), ev('cart', 11 * H + 1)], opts(['view', 'cart']))).toEqual([]);
  });
  it('summarizes counts, conversions and median times', () => {
    const s = summarizeFunnel([[0, 10, 30], [0, 20], [0], []], ['view', 'cart', 'checkout']);
    expect(s).toEqual([
      {
        step: 1,
        event: 'view',
        units: 3,
        conversion_from_first: 1,
        conversion_from_previous: 1,
        median_ms_from_previous: null,
      },
      {
        step: 2,
        event: 'cart',
        units: 2,
        conversion_from_first: 2 / 3,
        conversion_from_previous: 2 / 3,
        median_ms_from_previous: 15,
      },
      {
        step: 3,
        event: 'checkout',
        units: 1,
        conversion_from_first: 1 / 3,
        conversion_from_previous: 1 / 2,
        median_ms_from_previous: 20,
      },
    ]);
  });
});

/** The first implementation (for each start, scan forward): quadratic, kept as the reference. */
function quadraticWalk(events: UnitEvent[], o: FunnelOptions): number[] {
  let best: number[] = [];
  for (let start = 0; start < events.length; start++) {
    const first = events[start];
    if (first.name !== o.steps[0] || first.at < o.from || first.at > o.to) continue;
    const times = [first.at];
    let pos = start;
    for (let k = 1; k < o.steps.length; k++) {
      let found = -1;
      if (o.strict) {
        const next = events[pos + 1];
        if (next && next.name === o.steps[k] && next.at - first.at <= o.windowMs) found = pos + 1;
      } else {
        for (let j = pos + 1; j < events.length && events[j].at - first.at <= o.windowMs; j++) {
          if (events[j].name === o.steps[k]) {
            found = j;
            break;
          }
        }
      }
      if (found < 0) break;
      times.push(events[found].at);
      pos = found;
    }
    if (times.length > best.length) best = times;
    if (best.length === o.steps.length) break;
  }
  return best;
}

/** mulberry32: a seeded generator, so a failing case can be run again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('linear funnel walk', () => {
  it('answers as the quadratic reference on random units (ordered and strict, repeated steps, ties)', () => {
    const names = ['a', 'b', 'c', 'd'];
    let compared = 0;
    let reachedLast = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const rnd = random(seed);
      const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
      const n = Math.floor(rnd() * 40);
      let at = 0;
      const events: UnitEvent[] = [];
      for (let i = 0; i < n; i++) {
        at += pick([0, 0, 1, 2, 5, 10, 30]); // equal timestamps often
        events.push({ name: pick(names), at });
      }
      const steps = Array.from({ length: 2 + Math.floor(rnd() * 4) }, () => pick(names));
      const o: FunnelOptions = {
        steps,
        from: pick([0, 5, 20]),
        to: pick([10, 50, 1000]),
        windowMs: pick([0, 3, 10, 40, 1000]),
        strict: rnd() < 0.4,
      };
      const expected = quadraticWalk(events, o);
      expect({ seed, chain: walkUnit(events, o) }).toEqual({ seed, chain: expected });
      compared++;
      if (expected.length === steps.length) reachedLast++;
    }
    expect(compared).toBe(3000);
    // The data reaches every outcome, complete chains included.
    expect(reachedLast).toBeGreaterThan(300);
  });

  it('walks 40,000 events of one unit in linear time (the reference reads hundreds of millions of names)', () => {
    // Every event a first step, none reaching the last: each start scans its whole window.
    const events: UnitEvent[] = Array.from({ length: 40_000 }, (_, i) => ({ name: i % 2 ? 'b' : 'a', at: i }));
    let reads = 0;
    const counted = events.map((e) => ({
      get name() {
        reads++;
        return e.name;
      },
      at: e.at,
    }));
    expect(walkUnit(counted, { steps: ['a', 'b', 'c'], from: 0, to: 1e9, windowMs: 1e9, strict: false })).toEqual([
      0, 1,
    ]);
    expect(reads).toBeLessThanOrEqual(40_000 * 3);
  });
});
