/**
 * Funnel arithmetic over one unit's (session's or user's) events, pure. Definitions (docs/metrics.md):
 * - A chain starts at a step-1 event inside [from, to]; each next step is the earliest later event
 *   of that step's name (a different event: a repeated step needs a repeated event; an equal
 *   timestamp counts as later when the event comes after it in (time, id) order), no later than the
 *   conversion window after the chain's start. Later steps may fall after `to`, within the window.
 * - Ordered: other events may come between steps. Strict: none of the unit's events may.
 * - Each unit counts once, with the chain that gets furthest (the earliest such chain on ties).
 */
export interface UnitEvent {
  name: string;
  at: number;
}

export interface FunnelOptions {
  steps: string[];
  from: number;
  to: number;
  windowMs: number;
  strict: boolean;
}

/**
 * How far one unit got, and when it reached each step (ms), for its best chain. `events` are in
 * (time, id) order. Linear in the unit's events (times the number of steps, at most 10): ordered
 * chains follow precomputed "next event of this name" indexes instead of scanning forward from each
 * start, and a strict chain only ever looks at the events right after its start.
 */
export function walkUnit(events: UnitEvent[], o: FunnelOptions): number[] {
  const n = events.length;
  const k = o.steps.length;
  // next.get(name)[i]: the index of the first event of that name after index i, or -1.
  const next = new Map<string, Int32Array>();
  if (!o.strict) {
    for (const name of new Set(o.steps.slice(1))) {
      const idx = new Int32Array(n);
      let after = -1;
      for (let i = n - 1; i >= 0; i--) {
        idx[i] = after;
        if (events[i].name === name) after = i;
      }
      next.set(name, idx);
    }
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let start = 0; start < n && bestLength < k; start++) {
    const first = events[start];
    if (first.name !== o.steps[0] || first.at < o.from || first.at > o.to) continue;
    const limit = first.at + o.windowMs;
    let pos = start;
    let length = 1;
    for (; length < k; length++) {
      const j = o.strict
        ? pos + 1 < n && events[pos + 1].name === o.steps[length]
          ? pos + 1
          : -1
        : next.get(o.steps[length])![pos];
      if (j < 0 || events[j].at > limit) break;
      pos = j;
    }
    if (length > bestLength) {
      bestLength = length;
      bestStart = start;
    }
  }
  return bestStart < 0 ? [] : chainTimes(events, o, bestStart, bestLength, next);
}

/** The times of the chain of `length` steps from `start` (found again: only the best one is kept). */
function chainTimes(
  events: UnitEvent[],
  o: FunnelOptions,
  start: number,
  length: number,
  next: Map<string, Int32Array>,
): number[] {
  const times = [events[start].at];
  let pos = start;
  for (let s = 1; s < length; s++) {
    pos = o.strict ? pos + 1 : next.get(o.steps[s])![pos];
    times.push(events[pos].at);
  }
  return times;
}

export interface FunnelStep {
  step: number;
  event: string;
  units: number;
  conversion_from_first: number | null;
  conversion_from_previous: number | null;
  median_ms_from_previous: number | null;
}

/** Per-step counts, conversions and median times from every unit's best chain. */
export function summarizeFunnel(chains: number[][], steps: string[]): FunnelStep[] {
  return steps.map((event, k) => {
    const reached = chains.filter((c) => c.length > k);
    const previous = k === 0 ? reached.length : chains.filter((c) => c.length > k - 1).length;
    const first = chains.filter((c) => c.length > 0).length;
    const gaps = k === 0 ? [] : reached.map((c) => c[k] - c[k - 1]).sort((a, b) => a - b);
    const median =
      gaps.length === 0
        ? null
        : gaps.length % 2
          ? gaps[(gaps.length - 1) / 2]
          : (gaps[gaps.length / 2 - 1] + gaps[gaps.length / 2]) / 2;
    return {
      step: k + 1,
      event,
      units: reached.length,
      conversion_from_first: first ? reached.length / first : null,
      conversion_from_previous: previous ? reached.length / previous : null,
      median_ms_from_previous: median,
    };
  });
}
