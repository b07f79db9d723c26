/** The time in milliseconds since the epoch, for code that takes the time injected (rate limits, credential cache, report deadlines). */
export interface Clock {
  now(): number;
}

/** Nest token of the api's {@link Clock}: the system clock, one instance per application. */
export const CLOCK = Symbol('Clock');

export const systemClock = (): Clock => ({ now: () => Date.now() });
