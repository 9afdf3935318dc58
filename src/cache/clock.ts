/**
 * The one source of "now" for freshness, access times and the breaker. Injected everywhere so tests drive time
 * with a fake clock instead of sleeping (style.md rule 12).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
