/**
 * The blob index in the metadata tier: one BlobEntry per complete blob (key = its relative path), plus
 * running totals so the size cap is enforced without a scan at start. The totals are exact within one
 * process and re-counted by every full walk (eviction, stats), which also corrects drift when several
 * processes share the store.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { MetaStore } from './meta.ts';
import type { BlobEntry, BlobTotals } from './records.ts';

const TOTALS_KEY = 'blob-totals';

export interface BlobIndexDeps {
  entries: MetaStore<BlobEntry>;
  state: MetaStore<BlobTotals>;
  clock: Clock;
  log: Logger;
  /** lastAccess is written at most this often per blob, so hits stay read-only (default one minute). */
  touchEveryMs?: number;
}

export class BlobIndex {
  private readonly deps: BlobIndexDeps;
  private readonly touchEveryMs: number;
  private totals: BlobTotals = { bytes: 0, count: 0 };
  /** Totals writes are chained so the last one written is the latest value. */
  private totalsWrite: Promise<void> = Promise.resolve();
  private readonly background = new Set<Promise<void>>();

  constructor(deps: BlobIndexDeps) {
    this.deps = deps;
    this.touchEveryMs = deps.touchEveryMs ?? 60_000;
  }

  async init(): Promise<void> {
    try {
      const saved = await this.deps.state.get(TOTALS_KEY);
      if (saved !== undefined) this.totals = { bytes: Math.max(0, saved.bytes), count: Math.max(0, saved.count) };
    } catch (err) {
      this.deps.log.warn({ err }, 'cannot read blob totals; the next eviction walk will recount them');
    }
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
    this.adjust(entry.size - (old?.size ?? 0), old === undefined ? 1 : 0);
  }

  /** Removes the entry; returns it when there was one. */
  async remove(rel: string): Promise<BlobEntry | undefined> {
    const old = await this.deps.entries.get(rel);
    if (old === undefined) return undefined;
    if (await this.deps.entries.delete(rel)) this.adjust(-old.size, -1);
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

  /** Replaces the running totals with an exact count from a full walk. */
  setTotals(totals: BlobTotals): void {
    this.totals = { ...totals };
    this.persistTotals();
  }

  async settle(): Promise<void> {
    await Promise.allSettled([...this.background, this.totalsWrite]);
  }

  private adjust(bytes: number, count: number): void {
    this.totals = { bytes: Math.max(0, this.totals.bytes + bytes), count: Math.max(0, this.totals.count + count) };
    this.persistTotals();
  }

  private persistTotals(): void {
    this.totalsWrite = this.totalsWrite
      .then(() => this.deps.state.set(TOTALS_KEY, { ...this.totals }))
      .catch((err: unknown) => this.deps.log.warn({ err }, 'cannot persist blob totals'));
  }

  private track(p: Promise<void>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }
}
