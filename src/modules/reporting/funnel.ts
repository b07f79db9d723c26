/**
 * Funnel matching over one unit's events, pure. Times are microseconds since the epoch, as Postgres
 * stores them. Definitions (docs/metrics.md, "Funnels"):
 * - A chain starts at a step-1 event inside [from, to] and is matched on its required steps: each
 *   next required step is the earliest later event matching it (a different event: a repeated step
 *   needs a repeated event; an equal timestamp counts as later when the event comes after it in
 *   (time, id) order), no later than the conversion window after the chain's start.
 * - An optional step is passed when an event matching it lies after the step passed before it and
 *   before the chain's next required step's event (within the window for a step after the last
 *   required step reached); optional steps in a row are matched in order, each at its earliest event.
 * - Strict order: the chain's next event must be the unit's next event, and it must match one of the
 *   optional steps ahead or the next required step (the first of them it matches).
 * - An exclusion between steps a and b ends the chain at the first of its steps after a whose event
 *   comes after an excluded event that follows step a's event.
 * - Each unit counts once, with the chain that reaches the most required steps (the earliest start
 *   on ties).
 */
export interface WalkEvent {
  /** Microseconds since the epoch. */
  at: number;
  /** Bit s set: the event matches step s (its names and filters). */
  steps: number;
  /** Bit x set: the event matches exclusion x. */
  excl: number;
}

export interface WalkOptions {
  /** One entry per step: whether the chain may skip it (step 0 never is). */
  optional: boolean[];
  /** Range of chain starts, inclusive, µs. */
  from: number;
  to: number;
  windowUs: number;
  strict: boolean;
  /** Exclusions by step index (0-based), a < b, both required steps. */
  exclusions: { a: number; b: number }[];
}

/** A unit's best chain: the index of its first event, and per step the time it passed it (or null). */
export interface Chain {
  start: number;
  at: (number | null)[];
  /** Required steps reached. */
  depth: number;
}

/** For each of `bits` bits, per event index i: the index of the first event after index i with that bit, or -1. */
function nextIndexes(events: WalkEvent[], bits: number, key: 'steps' | 'excl'): Int32Array[] {
  const n = events.length;
  const out: Int32Array[] = [];
  for (let b = 0; b < bits; b++) {
    const idx = new Int32Array(n);
    const bit = 1 << b;
    let after = -1;
    for (let i = n - 1; i >= 0; i--) {
      idx[i] = after;
      if (events[i][key] & bit) after = i;
    }
    out.push(idx);
  }
  return out;
}

/**
 * A unit's best chain, or null when no step-1 event lies in the range. `events` are in (time, id)
 * order. Linear in the unit's events times the number of steps: ordered chains follow precomputed
 * "next event matching this step" indexes instead of scanning forward from each start, and a strict
 * chain only ever looks at the events right after its start.
 */
export function walkUnit(events: WalkEvent[], o: WalkOptions): Chain | null {
  const n = events.length;
  const k = o.optional.length;
  const required = o.optional.map((opt, s) => (opt ? -1 : s)).filter((s) => s >= 0);
  const next = o.strict ? [] : nextIndexes(events, k, 'steps');
  const nextExcl = o.exclusions.length && !o.strict ? nextIndexes(events, o.exclusions.length, 'excl') : [];
  // nextRequired[s]: the first required step after s, or k when none.
  const nextRequired = new Int32Array(k);
  for (let s = k - 1, r = k; s >= 0; s--) {
    nextRequired[s] = r;
    if (!o.optional[s]) r = s;
  }
  let best: Chain | null = null;
  const pos = new Int32Array(k);
  for (let start = 0; start < n && (!best || best.depth < required.length); start++) {
    const first = events[start];
    if (!(first.steps & 1) || first.at < o.from || first.at > o.to) continue;
    const limit = first.at + o.windowUs;
    pos.fill(-1);
    pos[0] = start;
    if (o.strict) walkStrict(events, o, nextRequired, pos, start, limit);
    else walkOrdered(events, o, required, next, pos, limit);
    for (let x = 0; x < o.exclusions.length && !o.strict; x++) cutAtExclusion(o.exclusions[x], nextExcl[x], pos);
    let depth = 0;
    for (const r of required) if (pos[r] >= 0) depth++;
    if (!best || depth > best.depth) {
      best = { start, depth, at: Array.from(pos, (p) => (p >= 0 ? events[p].at : null)) };
    }
  }
  return best;
}

function walkOrdered(
  events: WalkEvent[],
  o: WalkOptions,
  required: number[],
  next: Int32Array[],
  pos: Int32Array,
  limit: number,
): void {
  // The required steps first, each at its earliest event.
  let last = 0;
  for (let r = 1; r < required.length; r++) {
    const j = next[required[r]][pos[last]];
    if (j < 0 || events[j].at > limit) break;
    pos[required[r]] = j;
    last = required[r];
  }
  // Then the optional steps between them, and after the last one reached.
  const k = o.optional.length;
  let p = pos[0];
  for (let s = 1; s < k; s++) {
    if (!o.optional[s]) {
      if (pos[s] < 0) break;
      p = pos[s];
      continue;
    }
    let bound = events.length;
    for (let t = s + 1; t < k; t++)
      if (!o.optional[t]) {
        if (pos[t] >= 0) bound = pos[t];
        break;
      }
    const j = next[s][p];
    if (j >= 0 && j < bound && events[j].at <= limit) {
      pos[s] = j;
      p = j;
    }
  }
}

function walkStrict(
  events: WalkEvent[],
  o: WalkOptions,
  nextRequired: Int32Array,
  pos: Int32Array,
  start: number,
  limit: number,
): void {
  const k = o.optional.length;
  let s = 0;
  for (let j = start + 1; j < events.length && s < k - 1 && events[j].at <= limit; j++) {
    const upTo = Math.min(nextRequired[s], k - 1);
    let t = s + 1;
    while (t <= upTo && !(events[j].steps & (1 << t))) t++;
    if (t > upTo) return;
    pos[t] = j;
    s = t;
  }
}

/** Ends the chain at its first step in (a, b] whose event comes after an excluded event following step a. */
function cutAtExclusion(ex: { a: number; b: number }, nextExcl: Int32Array, pos: Int32Array): void {
  if (pos[ex.a] < 0) return;
  const x = nextExcl[pos[ex.a]];
  if (x < 0) return;
  for (let s = ex.a + 1; s <= ex.b; s++) {
    if (pos[s] > x) {
      for (let t = s; t < pos.length; t++) pos[t] = -1;
      return;
    }
  }
}
