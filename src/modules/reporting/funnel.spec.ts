import { Chain, walkUnit, WalkEvent, WalkOptions } from './funnel';
import { compileMatcher, filterHolds } from './funnel-match';
import { FunnelQuery, FunnelStepSpec, PropertyFilter } from './funnel-request';
import {
  breakdownGroups,
  conversionSeries,
  defaultBinsMs,
  FunnelTally,
  medianMs,
  previousRequiredSteps,
} from './funnel-summary';

const H = 3_600_000_000; // one hour in µs

interface Ev {
  name: string;
  at: number;
  ok?: unknown;
}
interface StepDef {
  names: string[];
  okIs?: boolean;
  optional?: boolean;
}
interface Case {
  steps: StepDef[];
  exclusions?: { names: string[]; a: number; b: number }[];
  from?: number;
  to?: number;
  windowUs?: number;
  strict?: boolean;
}

const matchesStep = (d: { names: string[]; okIs?: boolean }, e: Ev) =>
  d.names.includes(e.name) && (d.okIs === undefined || e.ok === d.okIs);

function toWalk(events: Ev[], c: Case): { events: WalkEvent[]; o: WalkOptions } {
  return {
    events: events.map((e) => ({
      at: e.at,
      steps: c.steps.reduce((m, d, s) => (matchesStep(d, e) ? m | (1 << s) : m), 0),
      excl: (c.exclusions ?? []).reduce((m, d, x) => (d.names.includes(e.name) ? m | (1 << x) : m), 0),
    })),
    o: {
      optional: c.steps.map((d) => d.optional === true),
      from: c.from ?? 0,
      to: c.to ?? 10 * H,
      windowUs: c.windowUs ?? H,
      strict: c.strict === true,
      exclusions: (c.exclusions ?? []).map(({ a, b }) => ({ a, b })),
    },
  };
}

const walk = (events: Ev[], c: Case) => {
  const w = toWalk(events, c);
  return walkUnit(w.events, w.o)?.at ?? null;
};
const ev = (name: string, at: number, ok?: unknown): Ev => ({ name, at, ok });
const steps = (...names: string[]): StepDef[] => names.map((n) => ({ names: [n] }));

describe('funnel walk', () => {
  it('follows ordered steps within the window, other events allowed in between', () => {
    expect(
      walk([ev('view', 0), ev('search', 10), ev('cart', 20), ev('checkout', 30)], {
        steps: steps('view', 'cart', 'checkout'),
      }),
    ).toEqual([0, 20, 30]);
  });
  it('stops at a step outside the window, to the microsecond', () => {
    const c = { steps: steps('view', 'cart', 'checkout') };
    expect(walk([ev('view', 0), ev('cart', 10), ev('checkout', H + 1)], c)).toEqual([0, 10, null]);
    expect(walk([ev('view', 0), ev('cart', 10), ev('checkout', H)], c)).toEqual([0, 10, H]);
  });
  it('starts only inside [from, to], both ends included, to the microsecond', () => {
    const c = { steps: steps('view', 'cart'), from: 5, to: 2 * H };
    expect(walk([ev('view', 4), ev('cart', 6)], c)).toBeNull();
    expect(walk([ev('view', 5), ev('cart', 6)], c)).toEqual([5, 6]);
    expect(walk([ev('view', 2 * H), ev('cart', 2 * H + 1)], c)).toEqual([2 * H, 2 * H + 1]);
    expect(walk([ev('view', 2 * H + 1), ev('cart', 2 * H + 2)], c)).toBeNull();
  });
  it('tries every start and keeps the chain that gets furthest', () => {
    expect(
      walk([ev('view', 0), ev('view', 2 * H), ev('cart', 2 * H + 5), ev('checkout', 2 * H + 9)], {
        steps: steps('view', 'cart', 'checkout'),
      }),
    ).toEqual([2 * H, 2 * H + 5, 2 * H + 9]);
  });
  it('needs a repeated event for a repeated step, and counts an equal timestamp as later', () => {
    const c = { steps: steps('view', 'view', 'checkout') };
    expect(walk([ev('view', 0), ev('checkout', 5)], c)).toEqual([0, null, null]);
    expect(walk([ev('view', 0), ev('view', 0), ev('checkout', 0)], c)).toEqual([0, 0, 0]);
  });
  it('strict order allows no other event in between', () => {
    const c = { steps: steps('view', 'cart'), strict: true };
    expect(walk([ev('view', 0), ev('search', 1), ev('cart', 2)], c)).toEqual([0, null]);
    expect(walk([ev('view', 0), ev('cart', 2)], c)).toEqual([0, 2]);
  });
  it('takes any of a step’s names, and only events whose properties match', () => {
    const c: Case = { steps: [{ names: ['view'] }, { names: ['cart', 'wishlist'], okIs: true }] };
    expect(walk([ev('view', 0), ev('wishlist', 3, false), ev('cart', 4, true)], c)).toEqual([0, 4]);
    expect(walk([ev('view', 0), ev('wishlist', 3, true)], c)).toEqual([0, 3]);
    expect(walk([ev('view', 0), ev('cart', 3)], c)).toEqual([0, null]);
  });
  it('passes an optional step between its neighbours, and skips it otherwise', () => {
    const c: Case = { steps: [{ names: ['view'] }, { names: ['search'], optional: true }, { names: ['cart'] }] };
    expect(walk([ev('view', 0), ev('search', 1), ev('cart', 2)], c)).toEqual([0, 1, 2]);
    expect(walk([ev('view', 0), ev('cart', 2), ev('search', 3)], c)).toEqual([0, null, 2]);
    expect(walk([ev('view', 0), ev('search', 3)], c)).toEqual([0, 3, null]); // passed, the next step not reached
    expect(walk([ev('view', 0), ev('search', H + 1)], c)).toEqual([0, null, null]); // outside the window
    const strict = { ...c, strict: true };
    expect(walk([ev('view', 0), ev('search', 1), ev('cart', 2)], strict)).toEqual([0, 1, 2]);
    expect(walk([ev('view', 0), ev('cart', 2)], strict)).toEqual([0, null, 2]);
    expect(walk([ev('view', 0), ev('other', 1), ev('cart', 2)], strict)).toEqual([0, null, null]);
  });
  it('breaks a chain at an excluded event between two steps', () => {
    const c: Case = { steps: steps('view', 'cart', 'checkout'), exclusions: [{ names: ['remove'], a: 1, b: 2 }] };
    expect(walk([ev('view', 0), ev('cart', 1), ev('remove', 2), ev('checkout', 3)], c)).toEqual([0, 1, null]);
    expect(walk([ev('view', 0), ev('remove', 1), ev('cart', 2), ev('checkout', 3)], c)).toEqual([0, 2, 3]);
    // another start gets past it
    expect(
      walk([ev('view', 0), ev('cart', 1), ev('remove', 2), ev('view', 3), ev('cart', 4), ev('checkout', 5)], c),
    ).toEqual([3, 4, 5]);
  });
});

describe('funnel property filters', () => {
  const f = (op: PropertyFilter['op'], value?: unknown): PropertyFilter =>
    ({ attribute: 'x', op, value }) as PropertyFilter;
  it.each([
    [f('eq', 5), [5], ['5', 6, null, undefined, true]],
    [f('eq', true), [true], ['true', 1, null]],
    [f('neq', 'a'), ['b', 1, null, undefined], ['a']],
    [f('in', ['a', 2]), ['a', 2], ['2', 'b', null]],
    [f('gt', 10), [10.5, 11], [10, '11', null, true]],
    [f('lt', 10), [9, -1], [10, '9', null]],
    [f('exists'), [0, '', false, 'a', {}], [null, undefined]],
  ] as [PropertyFilter, unknown[], unknown[]][])('%j', (filter, yes, no) => {
    for (const v of yes) expect([v, filterHolds(filter, v)]).toEqual([v, true]);
    for (const v of no) expect([v, filterHolds(filter, v)]).toEqual([v, false]);
  });
  it('compiles steps and exclusions to bits: names any of, every filter', () => {
    const step = (events: string[], where: PropertyFilter[] = []): FunnelStepSpec => ({
      events,
      where,
      optional: false,
      label: events.join(' | '),
    });
    const q = {
      steps: [step(['a']), step(['b', 'c'], [{ attribute: 'k', op: 'eq', value: 1 }]), step(['a'])],
      exclusions: [{ events: ['d'], where: [{ attribute: 'j', op: 'exists' }], a: 0, b: 2 }],
    } as unknown as FunnelQuery;
    const m = compileMatcher(q, ['k', 'j']);
    expect(m('a', [null, null])).toEqual([0b101, 0]);
    expect(m('c', [1, null])).toEqual([0b010, 0]);
    expect(m('c', ['1', null])).toEqual([0, 0]);
    expect(m('d', [null, 'x'])).toEqual([0, 1]);
    expect(m('d', [null, null])).toEqual([0, 0]);
  });
});

// ---------------------------------------------------------------------------------------------
// The brute force: the documented definitions, written apart from the walk.

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

/** One start's chain by the definitions: exhaustive search of the required steps, then fill and cut. */
function referenceFromStart(events: Ev[], c: Case, start: number): number[] {
  const k = c.steps.length;
  const windowUs = c.windowUs ?? H;
  const limit = events[start].at + windowUs;
  const pos = new Array<number>(k).fill(-1);
  pos[0] = start;
  if (c.strict) {
    // Each next event must be the unit's next one and match a step ahead, up to the next required one.
    let s = 0;
    let j = start + 1;
    while (s < k - 1 && j < events.length && events[j].at <= limit) {
      const candidates: number[] = [];
      for (let t = s + 1; t < k; t++) {
        candidates.push(t);
        if (!c.steps[t].optional) break;
      }
      const t = candidates.find((x) => matchesStep(c.steps[x], events[j]));
      if (t === undefined) break;
      pos[t] = j;
      s = t;
      j++;
    }
  } else {
    const required = c.steps.map((d, s) => (d.optional ? -1 : s)).filter((s) => s >= 0);
    // Every chain of the required steps, depth first in index order; the first of the deepest.
    let best: number[] = [start];
    const dfs = (r: number, chain: number[]) => {
      if (chain.length > best.length) best = [...chain];
      if (r === required.length) return;
      for (let j = chain[chain.length - 1] + 1; j < events.length && events[j].at <= limit; j++) {
        if (matchesStep(c.steps[required[r]], events[j])) dfs(r + 1, [...chain, j]);
        if (best.length === required.length) return;
      }
    };
    dfs(1, [start]);
    best.forEach((p, r) => (pos[required[r]] = p));
    // Optional steps: the earliest matching event after the step passed before, before the next required one.
    let last = start;
    for (let s = 1; s < k; s++) {
      if (!c.steps[s].optional) {
        if (pos[s] < 0) break;
        last = pos[s];
        continue;
      }
      let nextReq = -1;
      for (let t = s + 1; t < k; t++)
        if (!c.steps[t].optional) {
          nextReq = t;
          break;
        }
      const bound = nextReq >= 0 && pos[nextReq] >= 0 ? pos[nextReq] : events.length;
      for (let j = last + 1; j < bound && events[j].at <= limit; j++)
        if (matchesStep(c.steps[s], events[j])) {
          pos[s] = j;
          last = j;
          break;
        }
    }
    // Exclusions: the chain ends at its first step after a whose event follows an excluded event after a's.
    let cut = k;
    for (const x of c.exclusions ?? []) {
      if (pos[x.a] < 0) continue;
      let ex = -1;
      for (let j = pos[x.a] + 1; j < events.length; j++)
        if (x.names.includes(events[j].name)) {
          ex = j;
          break;
        }
      if (ex < 0) continue;
      for (let s = x.a + 1; s <= x.b; s++)
        if (pos[s] > ex) {
          cut = Math.min(cut, s);
          break;
        }
    }
    for (let s = cut; s < k; s++) pos[s] = -1;
  }
  return pos.map((p) => (p >= 0 ? events[p].at : (null as unknown as number)));
}

function reference(events: Ev[], c: Case): { start: number; at: (number | null)[] } | null {
  let best: { start: number; at: (number | null)[]; depth: number } | null = null;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (!matchesStep(c.steps[0], e) || e.at < (c.from ?? 0) || e.at > (c.to ?? 10 * H)) continue;
    const at = referenceFromStart(events, c, i);
    const depth = at.filter((t, s) => t !== null && !c.steps[s].optional).length;
    if (!best || depth > best.depth) best = { start: i, at, depth };
  }
  return best && { start: best.start, at: best.at };
}

function randomCase(rnd: () => number): { events: Ev[]; c: Case } {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const names = ['a', 'b', 'c', 'd', 'e'];
  const n = Math.floor(rnd() * 40);
  let at = 0;
  const events: Ev[] = [];
  for (let i = 0; i < n; i++) {
    at += pick([0, 0, 1, 2, 5, 999, 1000, 1001, 30_000]); // equal timestamps often, µs steps at the edges
    events.push({ name: pick(names), at, ok: pick([true, false, undefined]) });
  }
  const k = 2 + Math.floor(rnd() * 4);
  const stepDefs: StepDef[] = Array.from({ length: k }, (_, s) => ({
    names: rnd() < 0.3 ? [pick(names), pick(names)] : [pick(names)],
    ...(rnd() < 0.25 ? { okIs: rnd() < 0.7 } : {}),
    optional: s > 0 && rnd() < 0.3,
  }));
  if (stepDefs.filter((d) => !d.optional).length < 2) stepDefs[k - 1].optional = false;
  const required = stepDefs.map((d, s) => (d.optional ? -1 : s)).filter((s) => s >= 0);
  const exclusions = Array.from({ length: rnd() < 0.6 ? 1 + Math.floor(rnd() * 2) : 0 }, () => {
    const i = Math.floor(rnd() * (required.length - 1));
    const j = i + 1 + Math.floor(rnd() * (required.length - 1 - i));
    return { names: [pick(names)], a: required[i], b: required[j] };
  });
  return {
    events,
    c: {
      steps: stepDefs,
      exclusions,
      from: pick([0, 5, 1000]),
      to: pick([10, 1000, 2000, 1e9]),
      windowUs: pick([0, 1, 999, 1000, 5000, 1e9]),
      strict: rnd() < 0.3,
    },
  };
}

describe('funnel walk against the brute force of its definitions', () => {
  it('answers as the exhaustive reference on random units with every option and their combinations', () => {
    const seen = { compared: 0, complete: 0, optionalPassed: 0, optionalSkipped: 0, cut: 0, strict: 0, anyOf: 0 };
    for (let seed = 1; seed <= 6000; seed++) {
      const { events, c } = randomCase(random(seed));
      const w = toWalk(events, c);
      const got = walkUnit(w.events, w.o);
      const want = reference(events, c);
      expect({ seed, chain: got && { start: got.start, at: got.at } }).toEqual({ seed, chain: want });
      seen.compared++;
      if (want && want.at[want.at.length - 1] !== null) seen.complete++;
      if (want && c.steps.some((d, s) => d.optional && want.at[s] !== null)) seen.optionalPassed++;
      if (want && c.steps.some((d, s) => d.optional && want.at[s] === null && want.at[s + 1] != null))
        seen.optionalSkipped++;
      if (want && c.exclusions?.length && !c.strict) {
        const uncut = reference(events, { ...c, exclusions: [] })!;
        if (JSON.stringify(uncut.at) !== JSON.stringify(want.at)) seen.cut++;
      }
      if (c.strict && want && want.at[1] !== null) seen.strict++;
      if (want && c.steps.some((d) => d.names.length > 1)) seen.anyOf++;
    }
    // The data reaches every outcome the definitions speak of.
    expect(seen.compared).toBe(6000);
    for (const [what, n] of Object.entries(seen)) expect([what, n, n > 100]).toEqual([what, n, true]);
  });

  it('walks 40,000 events of one unit in linear time (a quadratic walk reads hundreds of millions)', () => {
    // Every event a first step, none reaching the last: each start scans its whole window.
    const raw: WalkEvent[] = Array.from({ length: 40_000 }, (_, i) => ({ at: i, steps: i % 2 ? 2 : 1, excl: 0 }));
    let reads = 0;
    const counted = raw.map((e) => ({
      get steps() {
        reads++;
        return e.steps;
      },
      at: e.at,
      excl: e.excl,
    }));
    const o = { optional: [false, false, false], from: 0, to: 1e12, windowUs: 1e12, strict: false, exclusions: [] };
    expect(walkUnit(counted, o)!.at).toEqual([0, 1, null]);
    expect(reads).toBeLessThanOrEqual(40_000 * 5);
  });
});

// ---------------------------------------------------------------------------------------------

describe('funnel tallies against a brute force', () => {
  const spec = (label: string, optional = false): FunnelStepSpec => ({ events: [label], where: [], optional, label });

  it('counts, converts, takes exact medians in ms with the microseconds, histograms and quantiles within 1 %', () => {
    const rnd = random(99);
    const specs = [spec('a'), spec('b', true), spec('c'), spec('d')];
    const previous = previousRequiredSteps(specs);
    expect(previous).toEqual([0, 0, 0, 2]);
    const chains: Chain[] = [];
    for (let u = 0; u < 3000; u++) {
      const start = Math.floor(rnd() * 1e9);
      const gap = () => Math.floor(Math.exp(rnd() * 20)); // 1 µs … 8 min
      const b = rnd() < 0.5 ? start + gap() : null; // optional
      const c = rnd() < 0.7 ? (b ?? start) + gap() : null;
      const d = c !== null && rnd() < 0.7 ? c + gap() : null;
      const at = [start, b, c, d];
      chains.push({ start: 0, at, depth: at.filter((x, s) => x !== null && !specs[s].optional).length });
    }
    const bins = [1, 10, 1000, 60_000];
    const tally = new FunnelTally(specs, bins, 3_600_000, previous);
    chains.forEach((c) => tally.add(c));
    const answer = tally.answer();
    const nearest = (sorted: number[], q: number) =>
      sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length - 1e-9))) - 1];
    for (let s = 0; s < 4; s++) {
      const reached = chains.filter((c) => c.at[s] !== null);
      const prev = chains.filter((c) => c.at[previous[s]] !== null);
      expect(answer[s].units).toBe(reached.length);
      expect(answer[s].conversion_from_first).toBeCloseTo(reached.length / chains.length, 12);
      expect(answer[s].conversion_from_previous).toBeCloseTo(reached.length / prev.length, 12);
      if (s === 0) {
        expect([answer[0].median_ms_from_previous, 'time_to_convert' in answer[0]]).toEqual([null, false]);
        continue;
      }
      for (const [kind, from] of [
        ['from_previous', previous[s]],
        ['from_first', 0],
      ] as const) {
        const times = reached.map((c) => (c.at[s]! - c.at[from]!) / 1000).sort((x, y) => x - y);
        const d = answer[s].time_to_convert![kind];
        for (const q of ['p50', 'p75', 'p90', 'p95', 'p99'] as const) {
          const truth = nearest(times, Number(q.slice(1)) / 100);
          expect([s, kind, q, Math.abs(d[q]! - truth) <= 0.01 * truth]).toEqual([s, kind, q, true]);
        }
        const edges = [0, ...bins, 3_600_000];
        expect(d.histogram.map((h) => [h.from_ms, h.to_ms])).toEqual(
          edges.slice(0, -1).map((e, i) => [e, edges[i + 1]]),
        );
        expect(d.histogram.map((h) => h.units)).toEqual(
          edges
            .slice(0, -1)
            .map((e, i) => times.filter((x) => x >= e && (i === edges.length - 2 || x < edges[i + 1])).length),
        );
        if (kind === 'from_previous') {
          const mid =
            times.length % 2
              ? times[(times.length - 1) / 2]
              : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
          expect(answer[s].median_ms_from_previous).toBeCloseTo(mid, 9);
        }
      }
    }
    expect(answer[1].units).toBeGreaterThan(1000);
  });

  it('answers a 1.5 ms gap as 1.5 ms', () => {
    expect(medianMs([1500])).toBe(1.5);
    expect(medianMs([1000, 2001])).toBe(1.5005);
    expect(medianMs([])).toBeNull();
  });

  it('chooses default bins below the window', () => {
    expect(defaultBinsMs(1)).toEqual([100, 500]);
    expect(defaultBinsMs(3600)).toEqual([100, 500, 1000, 5000, 10000, 30000, 60000, 300000, 600000, 1800000]);
  });

  it('keeps the top breakdown values and one "other" group', () => {
    const specs = [spec('a'), spec('b')];
    const chain = (b: boolean): Chain => ({ start: 0, at: [0, b ? 5 : null], depth: b ? 2 : 1 });
    const rows = [
      ...Array.from({ length: 5 }, (_, i) => ({ chain: chain(i < 2), values: ['web'] })),
      ...Array.from({ length: 3 }, () => ({ chain: chain(true), values: ['server'] })),
      ...Array.from({ length: 3 }, () => ({ chain: chain(false), values: ['widget'] })),
      { chain: chain(true), values: [null] },
    ];
    const { groups, values_total } = breakdownGroups(rows, 2, () => new FunnelTally(specs, [], 1000, [0, 0]));
    expect(values_total).toBe(4);
    expect(groups.map((g) => [g.values, g.other, g.units, g.steps.map((s) => s.units)])).toEqual([
      [['web'], false, 5, [5, 2]],
      [['server'], false, 3, [3, 3]], // ties broken by the value's JSON text: "server" before "widget"
      [[null], true, 4, [4, 1]],
    ]);
  });

  it('counts units per grain bucket of their first step, every bucket present', () => {
    const hour = 3_600_000_000;
    const chains: Chain[] = [
      { start: 0, at: [0, 1], depth: 2 },
      { start: 0, at: [hour - 1, null], depth: 1 },
      { start: 0, at: [2 * hour, 2 * hour + 5], depth: 2 },
    ];
    expect(conversionSeries(chains, 2, 1, 0, 2 * hour, hour)).toEqual([
      { t: '1970-01-01T00:00:00.000Z', units: [2, 1], conversion_from_first: 0.5 },
      { t: '1970-01-01T01:00:00.000Z', units: [0, 0], conversion_from_first: null },
      { t: '1970-01-01T02:00:00.000Z', units: [1, 1], conversion_from_first: 1 },
    ]);
  });
});
