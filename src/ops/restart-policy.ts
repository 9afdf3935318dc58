/**
 * When the cluster primary (cluster.ts) restarts a dead worker and when it gives up. Kept apart from node:cluster,
 * with the clock injected (style.md rule 12), so the rule is tested without forking anything.
 *
 * The rule: a worker that dies is restarted, unless
 * - no worker is serving and the last `workers` deaths were all workers that never listened: the configuration
 *   or the machine is at fault (a missing credential variable, a cache dir that cannot be made), and restarting
 *   cannot help; or
 * - more than `maxRestartsPerMinute` restarts happened in the last minute: a crash loop.
 */

export type Verdict = { restart: true } | { restart: false; reason: string };

export interface RestartPolicyOptions {
  /** How many workers the primary keeps running. */
  workers: number;
  maxRestartsPerMinute?: number;
  now?: () => number;
}

const MINUTE_MS = 60_000;

export class RestartPolicy {
  readonly #workers: number;
  readonly #maxRestarts: number;
  readonly #now: () => number;
  readonly #restarts: number[] = [];
  #failedAtStart = 0;
  #serving = 0;

  constructor(opts: RestartPolicyOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new TypeError(`expected opts.workers to be a positive integer, got ${String(opts.workers)}`);
    this.#workers = opts.workers;
    this.#maxRestarts = opts.maxRestartsPerMinute ?? 5;
    this.#now = opts.now ?? Date.now;
  }

  /** A worker started serving: the configuration works, so start failures so far were not its fault. */
  listening(): void {
    this.#serving++;
    this.#failedAtStart = 0;
  }

  /** A worker died; `listened` says whether it ever served. */
  died(listened: boolean): Verdict {
    if (listened) this.#serving = Math.max(0, this.#serving - 1);
    else {
      this.#failedAtStart++;
      if (this.#failedAtStart >= this.#workers && this.#serving === 0) {
        return { restart: false, reason: `every worker exited before it could serve (${this.#failedAtStart} start failures, none serving); see the worker's error above` };
      }
    }
    const now = this.#now();
    while (this.#restarts.length > 0 && (this.#restarts[0] ?? 0) <= now - MINUTE_MS) this.#restarts.shift();
    if (this.#restarts.length >= this.#maxRestarts) {
      return { restart: false, reason: `workers died ${this.#restarts.length + 1} times within a minute` };
    }
    this.#restarts.push(now);
    return { restart: true };
  }
}
