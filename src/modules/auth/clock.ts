/** The time in milliseconds since the epoch, as the rate limits and the credential cache read it. */
export interface Clock {
  now(): number;
}

/** Nest token of the api's {@link Clock}: the system clock, one instance per application. */
export const CLOCK = Symbol('Clock');

export const systemClock = (): Clock => ({ now: () => Date.now() });
