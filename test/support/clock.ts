import { INestApplicationContext } from '@nestjs/common';
import { CLOCK, Clock } from '../../src/common/clock';

/** The api's clock (rate-limit windows, credential cache), stopped where the test puts it. */
export interface PinnedClock {
  /** The time the api reads now, in ms since the epoch. */
  readonly ms: number;
  set(ms: number): void;
  advance(ms: number): void;
  /** Back to the system clock. */
  release(): void;
}

/** The start of a one-second window an hour ahead: no window of an earlier run or of the system clock. */
export function aheadWindow(): number {
  return Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
}

/** Stops an application's clock at `ms` (by default the start of a window an hour ahead). */
export function pinClock(app: INestApplicationContext, ms = aheadWindow()): PinnedClock {
  const clock = app.get<Clock>(CLOCK);
  const system = clock.now.bind(clock);
  let at = ms;
  clock.now = () => at;
  return {
    get ms() {
      return at;
    },
    set(to) {
      at = to;
    },
    advance(by) {
      at += by;
    },
    release() {
      clock.now = system;
    },
  };
}

/**
 * Moves an application's clock ahead of the system clock by `ms`, time still running: what the api
 * cached (credential rows and the tenant settings read with them, ANALYTICS_KEY_CACHE_MS) is then
 * that much older, so a test sees a changed tenant row without waiting for the cache to expire.
 */
export function skipAhead(app: INestApplicationContext, ms: number): void {
  const clock = app.get<Clock>(CLOCK);
  const current = clock.now.bind(clock);
  clock.now = () => current() + ms;
}

/** Past the credential cache's lifetime: changed tenant rows are read again on the next request. */
export function expireCredentialCache(app: INestApplicationContext, keyCacheMs: number): void {
  skipAhead(app, keyCacheMs + 1);
}
