import { DDSketch, nearestRank, RELATIVE_ACCURACY } from './ddsketch';

/** Exact quantile by nearest rank, written apart from the sketch: the value at 1-based rank ⌈q·n⌉. */
function exact(sorted: number[], q: number): number {
  const n = sorted.length;
  let rank = Math.ceil(q * n - 1e-9);
  rank = Math.min(n, Math.max(1, rank));
  return sorted[rank - 1];
}

function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const QUANTILES = [0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function expectAccurate(values: number[], sketch: DDSketch): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of QUANTILES) {
    const truth = exact(sorted, q);
    const got = sketch.quantile(q)!;
    if (truth === 0) expect(got).toBe(0);
    else expect(Math.abs(got - truth) / truth).toBeLessThanOrEqual(RELATIVE_ACCURACY + 1e-12);
  }
}

describe('DDSketch', () => {
  const r = rng(42);
  const distributions: Record<string, () => number[]> = {
    'skewed (log-normal latencies)': () =>
      Array.from({ length: 50_000 }, () =>
        Math.exp(5 + 1.2 * Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())),
      ),
    'bimodal (cache hits and misses)': () =>
      Array.from({ length: 40_000 }, (_, i) => (i % 3 ? 2 + r() * 3 : 800 + r() * 400)),
    constant: () => Array(10_000).fill(412.5),
    'heavy tail with zeros': () => Array.from({ length: 30_000 }, (_, i) => (i % 10 === 0 ? 0 : 1 / (r() ** 2 + 1e-6))),
  };

  it.each(Object.keys(distributions))('keeps every quantile within 1 %% relative error: %s', (name) => {
    const values = distributions[name]();
    const s = new DDSketch();
    for (const v of values) s.add(v);
    expect(s.count).toBe(values.length);
    expectAccurate(values, s);
  });

  it('merging sketches equals sketching the union, bucket for bucket', () => {
    const a = Array.from({ length: 5000 }, () => r() * 100);
    const b = Array.from({ length: 7000 }, () => 50 + r() * 1000);
    const merged = new DDSketch();
    const sa = new DDSketch();
    const sb = new DDSketch();
    a.forEach((v) => sa.add(v));
    b.forEach((v) => sb.add(v));
    merged.merge(sa).merge(sb);
    const union = new DDSketch();
    [...a, ...b].forEach((v) => union.add(v));
    expect(merged.toJSON()).toEqual(union.toJSON());
    expectAccurate([...a, ...b], merged);
  });

  it('reads percentiles by nearest rank: of 300 and 412 ms, p95 is 412 (within 1 %), p50 300', () => {
    const s = new DDSketch().add(300).add(412);
    expect(Math.abs(s.quantile(0.95)! - 412) / 412).toBeLessThanOrEqual(RELATIVE_ACCURACY);
    expect(Math.abs(s.quantile(0.5)! - 300) / 300).toBeLessThanOrEqual(RELATIVE_ACCURACY);
    // The worked example of docs/metrics.md: five values.
    const five = new DDSketch();
    for (const v of [120, 150, 300, 412, 980]) five.add(v);
    for (const [q, want] of [
      [0.5, 300],
      [0.75, 412],
      [0.9, 980],
      [0.95, 980],
      [0.2, 120],
      [0.21, 150],
      [0, 120],
      [1, 980],
    ])
      expect([q, Math.abs(five.quantile(q)! - want) / want <= RELATIVE_ACCURACY]).toEqual([q, true]);
  });

  it('takes the rank as ⌈q·n⌉ without floating-point noise', () => {
    expect(nearestRank(0.07, 100)).toBe(7);
    expect(nearestRank(0.95, 20)).toBe(19);
    expect(nearestRank(0.95, 2)).toBe(2);
    expect(nearestRank(0.5, 2)).toBe(1);
    expect(nearestRank(0, 5)).toBe(1);
    expect(nearestRank(1, 5)).toBe(5);
    expect(nearestRank(0.999, 1001)).toBe(1000);
    for (let n = 1; n <= 300; n++)
      for (const q of [0.01, 0.07, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) {
        // the smallest rank r with r/n ≥ q, by exact integer arithmetic on q in thousandths
        const qm = Math.round(q * 1000);
        let r = 1;
        while (r * 1000 < qm * n) r++;
        expect([n, q, nearestRank(q, n)]).toEqual([n, q, r]);
      }
  });

  it('answers null when empty and refuses negative values', () => {
    expect(new DDSketch().quantile(0.5)).toBeNull();
    expect(() => new DDSketch().add(-1)).toThrow(RangeError);
  });
});

describe('DDSketch binary form', () => {
  it('round-trips exactly, small, with negative indexes and zeros', () => {
    const s = new DDSketch().add(0, 3).add(0.5).add(0.001).add(412.5, 7).add(6000).add(1e9);
    const back = DDSketch.decode(s.encode());
    expect(back.toJSON()).toEqual(s.toJSON());
    expect(back.count).toBe(s.count);
    expect(DDSketch.decode(new DDSketch().encode()).count).toBe(0);
    const latencies = new DDSketch();
    for (let v = 150; v < 6000; v += 3) latencies.add(v);
    expect(latencies.encode().length).toBeLessThan(JSON.stringify(latencies.toJSON()).length / 3);
  });
});
