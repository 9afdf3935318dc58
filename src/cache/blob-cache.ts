/**
 * BlobCache (types.ts): package files served from the hot tier (a Buffer), else from disk (an open file),
 * else downloaded once for all concurrent clients and streamed to each while it is written, verified and
 * indexed (blob-flight.ts). The disk tier is capped at `cache.maxSize` (least recently used blobs go first), one
 * download at `limits.packageSize`.
 */
import { contentTypeOf } from '../nuget/package-files.ts';
import type { Logger } from 'pino';
import { ownClaims, type BlobClaims } from './blob-claims.ts';
import type { BlobStore } from './blob-fs.ts';
import type { Lease } from './file-lock.ts';
import { BlobFlight, type CompletedDownload } from './blob-flight.ts';
import type { BlobIndex } from './blob-index.ts';
import type { Clock } from './clock.ts';
import { hotCost, type HotTier } from './hot.ts';
import { blobIdPrefix, blobRelPath } from './keys.ts';
import type { BlobEntry, HotValue } from './records.ts';
import type { BlobCache, BlobKey, BlobLoader, BlobResult, StoredBlob, CacheObserver } from './types.ts';
import { verifyDownload, type DownloadFacts } from './verify.ts';

export interface BlobCacheDeps {
  /** Told about every answer and eviction (metrics). */
  observer?: CacheObserver;
  store: BlobStore;
  index: BlobIndex;
  /** Complete blobs up to cache.hotMaxEntrySize are served from here. */
  hot: HotTier<HotValue>;
  /** Disk cap for blobs (cache.maxSize). */
  maxSize: number;
  /** Largest single download (limits.packageSize): a longer body fails and is never stored. */
  maxBlobBytes: number;
  clock: Clock;
  log: Logger;
  /** True for an upstream that must not be contacted (offline mode; folder upstreams stay local and live). */
  offline: boolean | ((upstream: string) => boolean);
  /** Replaceable for tests; defaults to verify.ts. */
  verify?: (facts: DownloadFacts) => Promise<void>;
  /** Who downloads among processes sharing the folder (blob-claims.ts); default: this process alone. */
  claims?: BlobClaims;
  /**
   * The one-evictor-at-a-time lock of the shared folder: a lease, or undefined while another process evicts.
   * Absent: this process alone evicts.
   */
  evictLock?: () => Promise<Lease | undefined>;
}

export interface EvictionReport {
  removed: number;
  freedBytes: number;
}

const HOT_PREFIX = 'b:';
/** After going over the cap, evict down to this share of it, so a walk is not needed for every download. */
const LOW_WATER = 0.9;
/** When another process holds the eviction lock, look at the shared total again after this long. */
const EVICT_RECHECK_MS = 500;
/** Eviction walks in a row while the shared total stays over the cap (other processes keep adding). */
const EVICT_ROUNDS = 3;


/** Strong ETag from the content hash (design.md §3 "Towards clients"). */
export function etagFor(sha512Base64: string): string {
  return `"${Buffer.from(sha512Base64, 'base64').toString('hex').slice(0, 40)}"`;
}

function hitResult(entry: BlobEntry, body: BlobResult['body']): BlobResult {
  return { body, size: entry.size, contentType: entry.contentType, etag: entry.etag, sha512: entry.sha512, state: 'HIT' };
}

function isOffline(offline: boolean | ((upstream: string) => boolean), upstream: string): boolean {
  return typeof offline === 'function' ? offline(upstream) : offline;
}

export class DiskBlobCache implements BlobCache {
  private readonly deps: BlobCacheDeps;
  private readonly verify: (facts: DownloadFacts) => Promise<void>;
  private readonly flights = new Map<string, BlobFlight>();
  private readonly background = new Set<Promise<unknown>>();
  private eviction: Promise<EvictionReport> | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;
  /** Per flight: set by evictId while it runs, so it serves its clients but keeps nothing. */
  private readonly discarded = new WeakSet<BlobFlight>();

  constructor(deps: BlobCacheDeps) {
    this.deps = deps;
    this.verify = deps.verify ?? verifyDownload;
  }

  async get(key: BlobKey, loader: BlobLoader): Promise<BlobResult | undefined> {
    const rel = blobRelPath(key);
    const hot = this.deps.hot.get(HOT_PREFIX + rel);
    if (hot?.type === 'blob') {
      this.deps.index.touch(rel, hot.entry);
      this.deps.observer?.result('package', 'memory', 'hit');
      return hitResult(hot.entry, { kind: 'buffer', data: hot.data });
    }
    let flight = this.flights.get(rel);
    const joined = flight !== undefined;
    if (flight === undefined) {
      flight = this.startFlight(key, rel, loader);
    }
    const result = await flight.join();
    if (result !== undefined) {
      const stored = result.state === 'HIT';
      this.deps.observer?.result('package', stored ? 'store' : 'upstream', joined ? 'coalesced' : stored ? 'hit' : 'miss');
    }
    return result;
  }

  async has(key: BlobKey): Promise<boolean> {
    const rel = blobRelPath(key);
    if (this.deps.hot.get(HOT_PREFIX + rel)?.type === 'blob') return true;
    return (await this.deps.index.get(rel)) !== undefined;
  }

  async *entries(): AsyncIterable<StoredBlob> {
    for await (const [, entry] of this.deps.index.entries()) yield { key: entry.key, size: entry.size, sha512: entry.sha512, path: this.deps.store.path(entry.key) };
  }

  async evictId(id: string): Promise<void> {
    // Downloads of the id in flight (a handful at most) keep nothing; later requests start their own.
    for (const [rel, flight] of this.flights) {
      if (flight.key.id !== id) continue;
      this.discarded.add(flight);
      this.flights.delete(rel);
    }
    // The id's folder lists its blobs: no walk over the index.
    for (const key of await this.deps.store.listId(id)) await this.removeBlob(key);
    // Another process may have removed the files already (it published and told us): the hot copies go too. A
    // walk over the hot tier's keys, for a publish only.
    const hotPrefix = HOT_PREFIX + blobIdPrefix(id);
    for (const hotKey of [...this.deps.hot.keys()]) if (hotKey.startsWith(hotPrefix)) this.deps.hot.delete(hotKey);
  }

  /** Evicts least recently used blobs until the disk tier holds at most `target` bytes. */
  async shrinkTo(target: number): Promise<EvictionReport> {
    const baseline = { ...(await this.deps.index.refresh()) };
    const all: BlobEntry[] = [];
    let bytes = 0;
    for await (const [, entry] of this.deps.index.entries()) {
      all.push(entry);
      bytes += entry.size;
    }
    await this.deps.index.correctTotals(baseline, { bytes, count: all.length });
    const report: EvictionReport = { removed: 0, freedBytes: 0 };
    if (bytes <= target) return report;
    all.sort((a, b) => a.lastAccess - b.lastAccess || a.storedAt - b.storedAt);
    for (const entry of all) {
      if (bytes <= target) break;
      if (await this.removeBlob(entry.key)) {
        bytes -= entry.size;
        report.removed++;
        report.freedBytes += entry.size;
      }
    }
    return report;
  }

  /** Removes every blob not served since `cutoff` (clock ms). */
  async removeUnusedSince(cutoff: number): Promise<EvictionReport> {
    const report: EvictionReport = { removed: 0, freedBytes: 0 };
    const doomed: BlobEntry[] = [];
    for await (const [, entry] of this.deps.index.entries()) if (entry.lastAccess < cutoff) doomed.push(entry);
    for (const entry of doomed) {
      if (await this.removeBlob(entry.key)) {
        report.removed++;
        report.freedBytes += entry.size;
      }
    }
    return report;
  }

  /** Waits for access-time writes and a running eviction (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
    await this.deps.index.settle();
  }

  /** Stops every download in progress (their clients see a truncated body) and waits for them to end. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.recheck);
    const flights = [...this.flights.values()];
    for (const f of flights) f.abort(new Error('cache closing'));
    await Promise.allSettled(flights.map((f) => f.ended));
    await this.settle();
  }

  private startFlight(key: BlobKey, rel: string, loader: BlobLoader): BlobFlight {
    const flight: BlobFlight = new BlobFlight({
      key,
      store: this.deps.store,
      lookup: () => this.lookup(key, rel),
      loader: isOffline(this.deps.offline, key.upstream) ? undefined : loader,
      claims: this.deps.claims ?? ownClaims,
      verify: (facts) => this.verify(facts),
      shouldKeep: () => !this.discarded.has(flight),
      index: (done) => this.indexBlob(rel, done),
      contentType: (t) => contentTypeOf(key.file, t),
      maxBytes: this.deps.maxBlobBytes,
      onEnd: () => {
        if (this.flights.get(rel) === flight) this.flights.delete(rel);
      },
      onFailure: (err, phase) => {
        // A loader error is the caller's to report; a broken download is only visible here.
        if (phase === 'during download') this.deps.log.warn({ err, rel }, 'blob download failed; nothing was stored');
      },
    });
    this.flights.set(rel, flight);
    void flight.ended.catch((err: unknown) => this.deps.log.error({ err, rel }, 'blob flight crashed'));
    return flight;
  }

  /**
   * The stored blob, opened before this returns: checked against its index entry, promoted to the hot tier
   * when small enough, else handed out as an open file that an eviction from now on cannot take away.
   */
  private async lookup(key: BlobKey, rel: string): Promise<BlobResult | undefined> {
    let entry: BlobEntry | undefined;
    try {
      entry = await this.deps.index.get(rel);
    } catch (err) {
      this.deps.log.warn({ err, rel }, 'metadata store read failed; treating the blob as not cached');
      return undefined;
    }
    if (entry === undefined) return undefined;
    const opened = await this.deps.store.open(key).catch((err: unknown) => {
      this.deps.log.warn({ err, rel }, 'cannot open a stored blob');
      return undefined;
    });
    if (opened?.size !== entry.size) {
      // Removed or damaged behind our back: forget it and download again.
      await opened?.handle.close().catch(() => undefined);
      this.deps.log.warn({ rel, indexed: entry.size, onDisk: opened?.size }, 'blob file missing or wrong size; dropping it');
      await this.removeBlob(key).catch(() => undefined);
      return undefined;
    }
    this.deps.index.touch(rel, entry);
    const hotKey = HOT_PREFIX + rel;
    if (this.deps.hot.accepts(hotCost(hotKey, entry.size))) {
      const data = await opened.handle.readFile().catch(() => undefined);
      await opened.handle.close().catch(() => undefined);
      if (data !== undefined && data.length === entry.size) {
        this.deps.hot.set(hotKey, { type: 'blob', data, entry }, hotCost(hotKey, data.length));
        return hitResult(entry, { kind: 'buffer', data });
      }
      return undefined;
    }
    return hitResult(entry, { kind: 'file', path: this.deps.store.path(key), handle: opened.handle });
  }

  private async indexBlob(rel: string, done: CompletedDownload): Promise<void> {
    const now = this.deps.clock.now();
    const entry: BlobEntry = {
      key: done.key,
      size: done.size,
      sha512: done.sha512,
      etag: etagFor(done.sha512),
      contentType: done.contentType,
      storedAt: now,
      lastAccess: now,
    };
    try {
      await this.deps.index.add(rel, entry);
    } catch (err) {
      // The file is complete and verified; without an index entry it is simply downloaded again next time.
      this.deps.log.warn({ err, rel }, 'cannot index a downloaded blob');
      return;
    }
    if (this.deps.index.current.bytes > this.deps.maxSize) this.evictInBackground();
  }

  /**
   * Shrinks the shared folder to the low-water mark, as the one evictor of all processes sharing it: under the
   * eviction lock, from a walk of the shared index (which also recounts the shared totals). Another process
   * evicting already: look at the shared total again shortly, in case its walk missed what was added since.
   */
  private async evictShared(): Promise<EvictionReport> {
    const report: EvictionReport = { removed: 0, freedBytes: 0 };
    const lease = this.deps.evictLock === undefined ? undefined : await this.deps.evictLock();
    if (this.deps.evictLock !== undefined && lease === undefined) {
      this.recheckLater();
      return report;
    }
    try {
      for (let round = 0; round < EVICT_ROUNDS && !this.closed; round++) {
        const step = await this.shrinkTo(Math.floor(this.deps.maxSize * LOW_WATER));
        if (step.removed > 0) this.deps.observer?.evicted('disk', step.removed);
        report.removed += step.removed;
        report.freedBytes += step.freedBytes;
        if ((await this.deps.index.refresh()).bytes <= this.deps.maxSize) break;
      }
    } finally {
      await lease?.release();
    }
    return report;
  }

  private recheckLater(): void {
    if (this.recheck !== undefined || this.closed) return;
    this.recheck = setTimeout(() => {
      this.recheck = undefined;
      void this.deps.index.refresh().then((t) => {
        if (t.bytes > this.deps.maxSize) this.evictInBackground();
      });
    }, EVICT_RECHECK_MS);
    this.recheck.unref();
  }

  private evictInBackground(): void {
    if (this.eviction !== undefined || this.closed) return;
    const run = this.evictShared().then(
      (report) => {
        if (report.removed > 0) this.deps.log.info(report, 'evicted least recently used blobs to stay under cache.maxSize');
        return report;
      },
      (err: unknown) => {
        this.deps.log.warn({ err }, 'blob eviction failed');
        return { removed: 0, freedBytes: 0 };
      },
    );
    this.eviction = run;
    this.background.add(run);
    void run.finally(() => {
      this.background.delete(run);
      this.eviction = undefined;
    });
  }

  /** Index entry first, then the file: an index entry never points at a file that is gone for good. */
  private async removeBlob(key: BlobKey): Promise<boolean> {
    const rel = blobRelPath(key);
    this.deps.hot.delete(HOT_PREFIX + rel);
    const entry = await this.deps.index.remove(rel);
    const removedFile = await this.deps.store.remove(key);
    return entry !== undefined || removedFile;
  }
}
