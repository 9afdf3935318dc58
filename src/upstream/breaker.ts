/**
 * Per-upstream circuit breaker (design.md §3 "Breaker"): after `maxFails` failures within `failTimeout` the
 * circuit opens and requests fail fast instead of waiting on timeouts. Once `failTimeout` has passed since it
 * opened, exactly one probe is let through (half-open); its success closes the circuit, its failure re-opens it.
 */
import type { Clock } from '../cache/clock.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerSnapshot {
  state: BreakerState;
  /** Failures counted in the current window (closed), or since the circuit opened. */
  failures: number;
  /** When the circuit last opened (clock ms); absent while closed. */
  openedAt?: number;
}

export interface BreakerOptions {
  maxFails: number;
  failTimeout: number;
  clock: Clock;
}

export class Breaker {
  private readonly maxFails: number;
  private readonly failTimeout: number;
  private readonly clock: Clock;
  /** Times of recent failures while closed; only the ones within failTimeout count. */
  private failureTimes: number[] = [];
  /** Failures since the circuit opened (reported by /health). */
  private openFailures = 0;
  private openedAt: number | undefined;
  /** When the half-open probe was handed out; undefined while none is outstanding. */
  private probeAt: number | undefined;

  constructor(opts: BreakerOptions) {
    if (!Number.isInteger(opts.maxFails) || opts.maxFails < 1) {
      throw new RangeError(`Breaker: expected maxFails to be an integer >= 1, got ${String(opts.maxFails)}`);
    }
    if (!Number.isFinite(opts.failTimeout) || opts.failTimeout < 0) {
      throw new RangeError(`Breaker: expected failTimeout to be a duration in ms >= 0, got ${String(opts.failTimeout)}`);
    }
    this.maxFails = opts.maxFails;
    this.failTimeout = opts.failTimeout;
    this.clock = opts.clock;
  }

  /**
   * May a request go to the upstream now? Closed: always. Open: no, until failTimeout has passed since it
   * opened; then one caller gets true (the probe) and everyone else false until the probe reports.
   */
  allow(): boolean {
    if (this.openedAt === undefined) return true;
    const now = this.clock.now();
    if (now - this.openedAt < this.failTimeout) return false;
    // A probe whose caller never reported (e.g. the client went away before the upstream answered) must not
    // wedge the circuit: after another failTimeout a new probe is allowed.
    if (this.probeAt !== undefined && now - this.probeAt < this.failTimeout) return false;
    this.probeAt = now;
    return true;
  }

  success(): void {
    this.openedAt = undefined;
    this.probeAt = undefined;
    this.openFailures = 0;
    // A working answer means the earlier failures were not a streak; verdaccio resets the same way.
    this.failureTimes = [];
  }

  failure(): void {
    const now = this.clock.now();
    if (this.openedAt !== undefined) {
      this.openFailures++;
      if (this.probeAt !== undefined) {
        // The probe failed: open again for a full failTimeout.
        this.openedAt = now;
        this.probeAt = undefined;
      }
      // Otherwise it is a request that started before the circuit opened; it must not extend the open period.
      return;
    }
    this.failureTimes = this.failureTimes.filter((t) => now - t < this.failTimeout);
    this.failureTimes.push(now);
    if (this.failureTimes.length >= this.maxFails) {
      this.openedAt = now;
      this.openFailures = this.failureTimes.length;
      this.failureTimes = [];
    }
  }

  state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.clock.now() - this.openedAt < this.failTimeout ? 'open' : 'half-open';
  }

  snapshot(): BreakerSnapshot {
    const state = this.state();
    if (this.openedAt === undefined) {
      const now = this.clock.now();
      return { state, failures: this.failureTimes.filter((t) => now - t < this.failTimeout).length };
    }
    return { state, failures: this.openFailures, openedAt: this.openedAt };
  }
}
