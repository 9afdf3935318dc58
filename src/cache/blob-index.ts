/**
 * The blob index in the metadata tier: one BlobEntry per complete blob (key = its relative path), plus
 * running totals so the size cap is enforced without a scan at start. The totals are one shared value for every
 * process using the store (shared-totals.ts: atomic increments), re-counted by every full walk (eviction, stats).
 * `current` is the value as this process last saw it.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { MetaStore } from './meta.ts';
import type { BlobEntry, BlobTotals } from './records.ts';
import { storeTotals, type SharedTotals } from './shared-totals.ts';

export interface BlobIndexDeps {
  entries: MetaStore<BlobEntry>;
  state: MetaStore<BlobTotals>;
  /** The shared totals; default: kept by this process in `state` (one process alone). */
  totals?: SharedTotals;
  clock: Clock;
  log: Logger;
  /** lastAccess is written at most this often per blob, so hits stay read-only (default one minute). */
  touchEveryMs?: number;
}

export class BlobIndex {
  private readonly deps: BlobIndexDeps;
  private readonly touchEveryMs: number;
  private totals: BlobTotals = { bytes: 0, count: 0 };
  private readonly shared: SharedTotals;
  private readonly background = new Set<Promise<void>>();

  constructor(deps: BlobIndexDeps) {
    this.deps = deps;
    this.touchEveryMs = deps.touchEveryMs ?? 60_000;
    this.shared = deps.totals ?? storeTotals(deps.state);
  }

  /** Reads the shared totals; a store without them yet (first start, or an older nugate's) is counted once. */
  async init(): Promise<void> {
    let saved: BlobTotals | undefined;
    try {
      saved = await this.shared.get();
    } catch (err) {
      this.deps.log.warn({ err }, 'cannot read blob totals; the next eviction walk will recount them');
      return;
    }
    if (saved !== undefined) {
      this.totals = { bytes: Math.max(0, saved.bytes), count: Math.max(0, saved.count) };
      return;
    }
    const counted: BlobTotals = { bytes: 0, count: 0 };
    for await (const [, entry] of this.deps.entries.entries()) {
      counted.bytes += entry.size;
      counted.count++;
    }
    await this.setTotals(counted);
  }

  /** Reads the shared totals again (another process may have changed them); returns them. */
  async refresh(): Promise<Readonly<BlobTotals>> {
    try {
      const saved = await this.shared.get();
      if (saved !== undefined) this.totals = { bytes: Math.max(0, saved.bytes), count: Math.max(0, saved.count) };
    } catch (err) {
      this.deps.log.warn({ err }, 'cannot read blob totals; the next eviction walk will recount them');
    }
    return this.totals;
  }

  get current(): Readonly<BlobTotals> {
    return this.totals;
  }

  get(rel: string): Promise<BlobEntry | undefined> {
    return this.deps.entries.get(rel);
  }

  async add(rel: string, entry: BlobEntry): Promise<void> {
    const old = await this.deps.entries.get(rel).catch(() => undefined);
    await this.deps.entries.set(rel, entry);
    await this.adjust(entry.size - (old?.size ?? 0), old === undefined ? 1 : 0);
  }

  /** Removes the entry; returns it when there was one. */
  async remove(rel: string): Promise<BlobEntry | undefined> {
    const old = await this.deps.entries.get(rel);
    if (old === undefined) return undefined;
    if (await this.deps.entries.delete(rel)) await this.adjust(-old.size, -1);
    return old;
  }

  /** Records a hit for LRU eviction, cheaply: in memory at once, in the store at most once per interval. */
  touch(rel: string, entry: BlobEntry): void {
    const now = this.deps.clock.now();
    if (now - entry.lastAccess < this.touchEveryMs) return;
    entry.lastAccess = now;
    this.track(
      this.deps.entries.set(rel, entry).catch((err: unknown) => {
        this.deps.log.debug({ err, rel }, 'cannot record blob access time');
      }),
    );
  }

  entries(): AsyncIterable<[string, BlobEntry]> {
    return this.deps.entries.entries();
  }

  /**
   * Corrects the shared totals with a full walk's count. `baseline` is what they were before the walk: the
   * difference is added, so changes other processes made during the walk are kept (an add the walk also saw is
   * counted twice until the next walk: too much, never too little, so the cap still holds).
   */
  async correctTotals(baseline: BlobTotals, counted: BlobTotals): Promise<void> {
    await this.adjust(counted.bytes - baseline.bytes, counted.count - baseline.count);
  }

  /** Replaces the shared totals with an exact count (nothing else can be writing: first start). */
  async setTotals(totals: BlobTotals): Promise<void> {
    this.totals = { ...totals };
    await this.shared.set(totals).catch((err: unknown) => this.deps.log.warn({ err }, 'cannot persist blob totals'));
  }

  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  /** One atomic change of the shared totals; when it fails, this process's view still moves (the walk corrects). */
  private async adjust(bytes: number, count: number): Promise<void> {
    try {
      this.totals = await this.shared.add({ bytes, count });
    } catch (err) {
      this.totals = { bytes: Math.max(0, this.totals.bytes + bytes), count: Math.max(0, this.totals.count + count) };
      this.deps.log.warn({ err }, 'cannot update the shared blob totals; the next eviction walk recounts them');
    }
  }

  private track(p: Promise<void>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }
}
