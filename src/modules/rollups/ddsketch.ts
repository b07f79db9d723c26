/**
 * A DDSketch-style mergeable quantile sketch for non-negative values: logarithmic buckets with
 * relative accuracy α (γ = (1+α)/(1−α)), so any quantile is within α of the exact value's
 * neighbourhood, and two sketches merge by adding bucket counts. Stored in the compact binary form
 * of `encode`; `toJSON` shows the buckets as `{"z": zeroCount, "b": {"<index>": count}}`.
 */
export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
/** Values at or below this count as zero (a latency of a nanosecond is zero for our purposes). */
const MIN_VALUE = 1e-9;

/**
 * The nearest rank of the q-quantile among n values, 1-based: ⌈q·n⌉, at least 1. q·n is rounded to
 * 9 decimals first, so that 0.07 × 100 (7.000000000000001 in floating point) is rank 7, not 8.
 */
export function nearestRank(q: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil(Math.round(q * n * 1e9) / 1e9)));
}

export interface SketchData {
  z: number;
  b: Record<string, number>;
}

export class DDSketch {
  private zero = 0;
  private readonly buckets = new Map<number, number>();
  count = 0;

  add(value: number, times = 1): this {
    if (!(value >= 0) || !Number.isFinite(value))
      throw new RangeError(`DDSketch takes finite values ≥ 0 (got ${value})`);
    if (value <= MIN_VALUE) this.zero += times;
    else {
      const i = Math.ceil(Math.log(value) / LOG_GAMMA);
      this.buckets.set(i, (this.buckets.get(i) ?? 0) + times);
    }
    this.count += times;
    return this;
  }

  merge(other: DDSketch): this {
    this.zero += other.zero;
    for (const [i, c] of other.buckets) this.buckets.set(i, (this.buckets.get(i) ?? 0) + c);
    this.count += other.count;
    return this;
  }

  /**
   * The q-quantile (0 ≤ q ≤ 1) by nearest rank, or null for an empty sketch: the value at rank
   * ⌈q·n⌉ (at least 1) of the n values in ascending order, i.e. the smallest value that a share q of
   * the values stay at or under, within the relative accuracy.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = nearestRank(q, this.count); // 1-based
    let seen = this.zero;
    if (rank <= seen) return 0;
    const sorted = [...this.buckets].sort((a, b) => a[0] - b[0]);
    for (const [i, c] of sorted) {
      seen += c;
      if (rank <= seen) return (2 * Math.pow(GAMMA, i)) / (GAMMA + 1);
    }
    return (2 * Math.pow(GAMMA, sorted[sorted.length - 1][0])) / (GAMMA + 1);
  }

  /**
   * Compact binary form for storage: zero count, lowest index, then the dense run of bucket counts,
   * all as varints (zig-zag for the index). A few hundred bytes for a realistic latency sketch, so
   * the row stays inline in Postgres instead of going to TOAST on every update.
   */
  encode(): Buffer {
    const out: number[] = [];
    const varint = (n: number) => {
      while (n >= 0x80) {
        out.push((n % 0x80) | 0x80);
        n = Math.floor(n / 0x80);
      }
      out.push(n);
    };
    varint(this.zero);
    const keys = [...this.buckets.keys()];
    if (keys.length === 0) return Buffer.from(out);
    const min = Math.min(...keys);
    const max = Math.max(...keys);
    varint(min >= 0 ? min * 2 : -min * 2 - 1);
    for (let i = min; i <= max; i++) varint(this.buckets.get(i) ?? 0);
    return Buffer.from(out);
  }

  static decode(buf: Buffer | null | undefined): DDSketch {
    const s = new DDSketch();
    if (!buf || buf.length === 0) return s;
    let pos = 0;
    const varint = () => {
      let n = 0;
      let mul = 1;
      for (;;) {
        const b = buf[pos++];
        n += (b & 0x7f) * mul;
        if (b < 0x80) return n;
        mul *= 0x80;
      }
    };
    s.zero = varint();
    s.count = s.zero;
    if (pos >= buf.length) return s;
    const z = varint();
    let i = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    while (pos < buf.length) {
      const c = varint();
      if (c) {
        s.buckets.set(i, c);
        s.count += c;
      }
      i++;
    }
    return s;
  }

  toJSON(): SketchData {
    return { z: this.zero, b: Object.fromEntries([...this.buckets].map(([i, c]) => [String(i), c])) };
  }
}
