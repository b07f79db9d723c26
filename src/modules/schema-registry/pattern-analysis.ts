import type { Diagnostics } from 'recheck';

/** How long the analysis of one pattern may take before it is reported as undecided. */
export const PATTERN_ANALYSIS_TIMEOUT_MS = 3000;

export type PatternVerdict =
  | { status: 'safe' }
  | { status: 'vulnerable'; complexity: string; attack: string }
  | { status: 'unknown'; why: string };

type Check = (source: string, flags: string, params?: Record<string, unknown>) => Promise<Diagnostics>;
let loaded: Promise<Check> | null = null;

/** recheck, loaded once on first use (it is large); its own backend choice (the native binary when present). */
function recheck(): Promise<Check> {
  loaded ??= import('recheck').then((m) => m.check);
  return loaded;
}

/**
 * Whether a pattern can take super-linear time on a backtracking regular-expression engine,
 * decided by recheck (automata analysis, or attack-string search where the automaton is too
 * large), within {@link PATTERN_ANALYSIS_TIMEOUT_MS}. Unlike a star-height rule it does not refuse
 * linear patterns such as `^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$|^[0-9a-f]{16}$`.
 */
export async function analysePattern(
  pattern: string,
  timeoutMs = PATTERN_ANALYSIS_TIMEOUT_MS,
): Promise<PatternVerdict> {
  let d: Diagnostics;
  try {
    d = await (await recheck())(pattern, 'u', { timeout: timeoutMs });
  } catch (err) {
    return { status: 'unknown', why: `the analyser failed: ${(err as Error).message}` };
  }
  if (d.status === 'safe') return { status: 'safe' };
  if (d.status === 'vulnerable') {
    const summary = d.complexity.type === 'exponential' ? 'exponential' : `polynomial (${d.complexity.summary})`;
    return { status: 'vulnerable', complexity: summary, attack: d.attack.pattern };
  }
  const error = d.error as { kind?: string; message?: string };
  return {
    status: 'unknown',
    why: error.kind === 'timeout' ? `no answer within ${timeoutMs} ms` : (error.message ?? error.kind ?? 'unknown'),
  };
}
