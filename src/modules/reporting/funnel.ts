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

/** How far one unit got, and when it reached each step (ms), for its best chain. */
export function walkUnit(events: UnitEvent[], o: FunnelOptions): number[] {
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
