/**
 * DocCache (types.ts) over the hot tier and the metadata tier (design.md §3). The freshness rule in one
 * sentence: fresh within the TTL; after it, revalidate before answering, and serve the stale copy only when the
 * upstream fails or misses `cache.revalidateTimeout` (the revalidation then finishes in the background and its
 * result is stored for the next request). Also: coalescing, conditional revalidation, offline mode, exact
 * eviction, negative entries that expire and go, and a metadata tier capped by `cache.maxMetadataSize`.
 */
import type { Logger } from 'pino';
import { notFound, UpstreamError } from '../errors.ts';
import type { Clock } from './clock.ts';
import { hotCost, type HotTier } from './hot.ts';
import type { MetaStore } from './meta.ts';
import { metaCost, type MetaIndex, type SeedEntry } from './meta-index.ts';
import type { Policy } from './policy.ts';
import type { DocRecord, HotValue } from './records.ts';
import { failureKind, staleReason, type FailureKind } from './stale-reason.ts';
import type { DocCache, DocGetOptions, DocKind, DocLoader, DocResult, LoadResult, StoredDoc, CacheObserver } from './types.ts';

export interface DocCacheDeps {
  /** Told about every answer and eviction (metrics). */
  observer?: CacheObserver;
  store: MetaStore<DocRecord>;
  hot: HotTier<HotValue>;
  policy: Policy;
  clock: Clock;
  log: Logger;
  /** True for an upstream that must not be contacted (offline mode; folder upstreams stay local and live). */
  offline: (upstream: string) => boolean;
  /**
   * `cache.revalidateTimeout` in ms: how long a request waits for the revalidation of an expired copy before
   * it is answered with that copy (STALE). A miss (nothing cached) waits for the loader, bounded by the
   * upstream's own timeout.
   */
  revalidateTimeoutMs: number;
  /** Accounting of the metadata tier: `cache.maxMetadataSize` and the expiry of negative entries. */
  index: MetaIndex;
}

interface Loaded {
  doc: StoredDoc;
  notModified: boolean;
}

/** Set when a load's key is evicted while it runs: it still answers its callers but stores nothing. */
interface Discard {
  discard: boolean;
  /** When the load started (clock ms): a copy another process stored after that is newer than this answer. */
  startedAt: number;
}

/** One load in progress. */
interface Flight {
  promise: Promise<Loaded>;
  control: Discard;
}

const HOT_PREFIX = 'd:';
const TIMED_OUT = Symbol('timed out');

export class TieredDocCache implements DocCache {
  private readonly deps: DocCacheDeps;
  /** In-flight loads by key: concurrent requests share one upstream request (style.md rule 9). */
  private readonly flights = new Map<string, Flight>();
  /** Loads and removals still running (settle, close); each removes itself when done. */
  private readonly background = new Set<Promise<unknown>>();
  /** Removals in progress by key: a write of the same key waits for it, so a late unlink cannot undo it. */
  private readonly removals = new Map<string, Promise<void>>();
  /** Loads already reported as finishing in the background (so several timed-out callers log once). */
  private readonly lateLoads = new WeakSet<Promise<Loaded>>();

  constructor(deps: DocCacheDeps) {
    this.deps = deps;
  }

  /**
   * Seeds the metadata accounting with one walk over the store (start-up): sizes, the order to evict in, and
   * negative entries to expire. Expired negatives and anything over the cap are removed at once.
   */
  async init(): Promise<void> {
    const { policy } = this.deps;
    const found: SeedEntry[] = [];
    for await (const [key, record] of this.deps.store.entries()) {
      const entry: SeedEntry = { key, bytes: metaCost(key, record.doc.body), storedAt: record.doc.storedAt };
      if (record.doc.status === 404) entry.expiresAt = record.doc.storedAt + policy.ttl(record.kind, record.doc.upstream, 404);
      found.push(entry);
    }
    const doomed = this.deps.index.seed(found);
    doomed.push(...this.deps.index.expired(this.deps.clock.now()));
    if (doomed.length > 0) this.deps.log.info({ removed: doomed.length }, 'removing expired negative entries and documents over cache.maxMetadataSize');
    await Promise.all(doomed.map((key) => this.remove(key)));
  }

  async get(key: string, kind: DocKind, upstream: string, loader: DocLoader, opts: DocGetOptions = {}): Promise<DocResult> {
    const observer = this.deps.observer;
    if (observer === undefined) return this.lookup(key, kind, upstream, loader, opts);
    const inMemory = this.deps.hot.peek(HOT_PREFIX + key) !== undefined;
    const joined = this.flights.has(key);
    const res = await this.lookup(key, kind, upstream, loader, opts);
    const fetched = res.state === 'MISS' || res.state === 'REVALIDATED';
    const outcome = fetched && joined ? 'coalesced' : res.state === 'MISS' ? 'miss' : res.state === 'REVALIDATED' ? 'revalidated' : res.state === 'STALE' ? 'stale' : 'hit';
    observer.result('document', fetched ? 'upstream' : inMemory ? 'memory' : 'store', outcome);
    return res;
  }

  private async lookup(key: string, kind: DocKind, upstream: string, loader: DocLoader, opts: DocGetOptions): Promise<DocResult> {
    this.removeExpired();
    let cached = await this.read(key, kind, upstream);
    // An expired negative entry is gone, whether or not its removal has run yet: it is never served stale.
    if (cached !== undefined && cached.doc.status === 404 && this.ageOf(cached.doc) >= this.deps.policy.ttl(kind, upstream, 404)) cached = undefined;
    if (this.deps.offline(upstream)) {
      if (cached !== undefined) return { doc: cached.doc, state: 'HIT', ageMs: this.ageOf(cached.doc) };
      throw notFound(`nugate is offline and this document is not cached`);
    }
    if (cached !== undefined && opts.revalidate !== true) {
      const age = this.ageOf(cached.doc);
      if (age < this.deps.policy.ttl(kind, upstream, cached.doc.status)) {
        this.deps.index.touch(key);
        return { doc: cached.doc, state: 'HIT', ageMs: age };
      }
    }
    const load = this.load(key, kind, upstream, loader, cached?.doc);
    if (cached === undefined) return this.answer(await load);
    return this.revalidate(key, upstream, cached.doc, load);
  }

  async put(key: string, kind: DocKind, doc: StoredDoc): Promise<boolean> {
    const held = await this.read(key, kind, doc.upstream);
    if (held !== undefined && held.doc.storedAt >= doc.storedAt) return false;
    await this.write(key, { kind, doc }, { discard: false, startedAt: doc.storedAt });
    return true;
  }

  async evictKeys(keys: string[]): Promise<void> {
    for (const key of keys) {
      // A load that started before the eviction must not store what it fetched (a publish just changed it),
      // and requests from now on start a load of their own instead of joining it.
      const flight = this.flights.get(key);
      if (flight !== undefined) {
        flight.control.discard = true;
        this.flights.delete(key);
      }
    }
    await Promise.all(keys.map((key) => this.remove(key)));
  }

  evictSearches(): void {
    const { hot } = this.deps;
    for (const hotKey of [...hot.keys()]) {
      const value = hotKey.startsWith(HOT_PREFIX) ? hot.peek(hotKey) : undefined;
      if (value?.type === 'doc' && value.record.kind === 'search') hot.delete(hotKey);
    }
  }

  async *entries(prefix: string): AsyncIterable<[string, StoredDoc]> {
    for await (const [key, record] of this.deps.store.entries()) if (key.startsWith(prefix)) yield [key, record.doc];
  }

  /** Removes documents stored (or last revalidated) before `cutoff` (clock ms); returns how many. */
  async removeStoredBefore(cutoff: number): Promise<number> {
    const doomed: string[] = [];
    for await (const [key, record] of this.deps.store.entries()) if (record.doc.storedAt < cutoff) doomed.push(key);
    for (const key of doomed) await this.remove(key);
    return doomed.length;
  }

  async settle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  private answer(loaded: Loaded): DocResult {
    return {
      doc: loaded.doc,
      state: loaded.notModified ? 'REVALIDATED' : 'MISS',
      ageMs: Math.max(0, this.deps.clock.now() - loaded.doc.storedAt),
    };
  }

  /** Waits for the revalidation up to the deadline; the stored copy (STALE) when it fails or is late. */
  private async revalidate(key: string, upstream: string, stale: StoredDoc, load: Promise<Loaded>): Promise<DocResult> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, this.deps.revalidateTimeoutMs));
    });
    let kind: FailureKind;
    try {
      const outcome = await Promise.race([load, deadline]);
      if (outcome !== TIMED_OUT) return this.answer(outcome);
      kind = 'timeout';
      this.reportLate(key, upstream, load);
    } catch (err) {
      kind = failureKind(err);
      this.deps.log.warn({ err, key, upstream }, 'revalidation failed; serving the stale copy');
    } finally {
      clearTimeout(timer);
    }
    return { doc: stale, state: 'STALE', staleReason: staleReason(upstream, kind), ageMs: this.ageOf(stale) };
  }

  /** A revalidation that missed the deadline goes on (tracked by load()); its outcome is only logged. */
  private reportLate(key: string, upstream: string, load: Promise<Loaded>): void {
    if (this.lateLoads.has(load)) return;
    this.lateLoads.add(load);
    this.deps.log.info({ key, upstream, timeoutMs: this.deps.revalidateTimeoutMs }, 'revalidation missed its deadline; served the stale copy, finishing in the background');
    load.then(
      () => this.deps.log.debug({ key, upstream }, 'late revalidation stored'),
      (err: unknown) => this.deps.log.warn({ err, key, upstream }, 'late revalidation failed; keeping the stale copy'),
    );
  }

  private ageOf(doc: StoredDoc): number {
    return Math.max(0, this.deps.clock.now() - doc.storedAt);
  }

  /**
   * The freshest copy we have: the hot tier when it is still fresh, else the metadata tier (another instance
   * sharing it may have refreshed the document), else the hot copy.
   */
  private async read(key: string, kind: DocKind, upstream: string): Promise<DocRecord | undefined> {
    const hot = this.deps.hot.get(HOT_PREFIX + key);
    const hotRecord = hot?.type === 'doc' ? hot.record : undefined;
    if (hotRecord !== undefined && this.ageOf(hotRecord.doc) < this.deps.policy.ttl(kind, upstream, hotRecord.doc.status)) {
      return hotRecord;
    }
    if (kind === 'search') return hotRecord;
    let stored: DocRecord | undefined;
    try {
      stored = await this.deps.store.get(key);
    } catch (err) {
      this.deps.log.warn({ err, key }, 'metadata store read failed; treating the document as not cached');
    }
    if (stored !== undefined && (hotRecord === undefined || stored.doc.storedAt > hotRecord.doc.storedAt)) {
      this.putHot(key, stored);
      return stored;
    }
    return hotRecord;
  }

  private putHot(key: string, record: DocRecord): void {
    const hotKey = HOT_PREFIX + key;
    this.deps.hot.set(hotKey, { type: 'doc', record }, hotCost(hotKey, Buffer.byteLength(record.doc.body)));
  }

  private async write(key: string, record: DocRecord, control: Discard): Promise<void> {
    this.putHot(key, record);
    // Search answers live a minute, vary with every query and are cheap to ask again: persisting each one was
    // about half the cost of a search miss (bench). They stay in memory only; offline search uses the
    // persisted registrations and flat indexes instead (src/resources/local-index.ts).
    if (record.kind === 'search') return;
    await this.removals.get(key);
    // Processes sharing the store (issue 10): one whose load began before another stored a fresher copy must not
    // replace that copy with its older answer. Off the hit path (loads only), one read.
    const newer = await this.newerStored(key, control.startedAt);
    if (newer !== undefined) {
      this.putHot(key, newer);
      return;
    }
    try {
      await this.deps.store.set(key, record);
    } catch (err) {
      // The answer is still good; it is just not persisted (a later restart refetches it).
      this.deps.log.warn({ err, key }, 'metadata store write failed');
      return;
    }
    if (control.discard) {
      // Evicted while the write was on its way: the eviction's delete may have run first.
      await this.remove(key);
      return;
    }
    const { doc } = record;
    const expiresAt = doc.status === 404 ? doc.storedAt + this.deps.policy.ttl(record.kind, doc.upstream, 404) : undefined;
    const doomed = this.deps.index.record(key, metaCost(key, doc.body), expiresAt);
    if (doomed.length > 0) this.deps.observer?.evicted('metadata', doomed.length);
    for (const k of doomed) this.track(this.remove(k, { keepHot: k === key }));
  }

  /** The stored copy when another process stored it after `since`; undefined otherwise (or unreadable). */
  private async newerStored(key: string, since: number): Promise<DocRecord | undefined> {
    try {
      const stored = await this.deps.store.get(key);
      return stored !== undefined && stored.doc.storedAt > since ? stored : undefined;
    } catch {
      return undefined;
    }
  }

  /** Starts the expired negative entries' removal (cheap when none is due: one heap peek). */
  private removeExpired(): void {
    for (const key of this.deps.index.expired(this.deps.clock.now())) this.track(this.remove(key));
  }

  /**
   * Removes one key from both tiers. `keepHot` keeps the memory copy: a document pushed out of the metadata
   * tier by the cap is still a valid answer while the hot tier holds it.
   */
  private remove(key: string, opts: { keepHot?: boolean } = {}): Promise<void> {
    if (opts.keepHot !== true) this.deps.hot.delete(HOT_PREFIX + key);
    this.deps.index.remove(key);
    const previous = this.removals.get(key) ?? Promise.resolve();
    const removal = previous
      .then(() => this.deps.store.delete(key))
      .then(
        () => undefined,
        (err: unknown) => this.deps.log.warn({ err, key }, 'metadata store delete failed'),
      )
      .finally(() => {
        if (this.removals.get(key) === removal) this.removals.delete(key);
      });
    this.removals.set(key, removal);
    return removal;
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  private load(key: string, kind: DocKind, upstream: string, loader: DocLoader, stale: StoredDoc | undefined): Promise<Loaded> {
    const running = this.flights.get(key);
    if (running !== undefined) return running.promise;
    const control: Discard = { discard: false, startedAt: this.deps.clock.now() };
    const run = (async (): Promise<Loaded> => {
      const result = await loader(stale);
      const doc = toStoredDoc(result, upstream, stale, this.deps.clock.now());
      if (!control.discard) await this.write(key, { kind, doc }, control);
      return { doc, notModified: result.kind === 'notModified' };
    })();
    const flight: Flight = {
      control,
      promise: run.finally(() => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      }),
    };
    this.flights.set(key, flight);
    // Tracked so settle() waits for it; failures reach the callers (and are logged there).
    this.track(flight.promise.catch(() => undefined));
    return flight.promise;
  }
}

function toStoredDoc(result: LoadResult, upstream: string, stale: StoredDoc | undefined, now: number): StoredDoc {
  switch (result.kind) {
    case 'ok':
      if (typeof result.body !== 'string') throw new TypeError('DocLoader returned "ok" without a string body');
      return { status: 200, body: result.body, validators: { ...result.validators }, storedAt: now, upstream };
    case 'notFound':
      return { status: 404, body: '', validators: {}, storedAt: now, upstream };
    case 'notModified':
      if (stale === undefined) throw new UpstreamError(upstream, 'answered 304 Not Modified, but nothing is cached to revalidate');
      // RFC 9111 §4.3.4: a 304 refreshes the stored response; its validators replace the old ones.
      return { ...stale, validators: { ...stale.validators, ...result.validators }, storedAt: now };
    default:
      throw new TypeError('DocLoader returned an unknown result');
  }
}
