/**
 * DocCache (types.ts) over the hot tier and the metadata tier: TTL per kind, stale-while-revalidate,
 * conditional revalidation, stale-if-error, coalescing and offline mode (design.md §3).
 */
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { notFound, UpstreamError } from '../errors.ts';
import type { Clock } from './clock.ts';
import type { HotTier } from './hot.ts';
import type { MetaStore } from './meta.ts';
import type { Policy } from './policy.ts';
import type { DocRecord, HotValue } from './records.ts';
import type { DocCache, DocKind, DocLoader, DocResult, LoadResult, StoredDoc } from './types.ts';
import { cachedCopyWarning, failureReason } from './warning.ts';

export interface DocCacheDeps {
  store: MetaStore<DocRecord>;
  hot: HotTier<HotValue>;
  policy: Policy;
  clock: Clock;
  log: Logger;
  /** True for an upstream that must not be contacted (offline mode; folder upstreams stay local and live). */
  offline: (upstream: string) => boolean;
  /**
   * How long past its TTL a copy is still served at once while it revalidates in the background. Older
   * copies are revalidated in the foreground (that call waits, and gets REVALIDATED or MISS). Default:
   * unbounded, i.e. always stale-while-revalidate.
   */
  maxStaleMs?: number;
}

interface Loaded {
  doc: StoredDoc;
  notModified: boolean;
}

const HOT_PREFIX = 'd:';
/** Rough per-entry overhead in the hot tier besides the body (object, validators, key). */
const HOT_OVERHEAD = 256;
/** How many recent evictions in-flight loads are checked against. */
const EVICTION_MEMORY = 64;

export class TieredDocCache implements DocCache {
  private readonly deps: DocCacheDeps;
  private readonly maxStaleMs: number;
  /** In-flight loads by key: concurrent misses share one upstream request (style.md rule 9). */
  private readonly flights = new Map<string, Promise<Loaded>>();
  private readonly background = new Set<Promise<void>>();
  /** Keys whose background revalidation got 304: the next fresh answer says REVALIDATED (once). */
  private readonly revalidated = new LRUCache<string, true>({ max: 10_000 });
  /** Keys whose last revalidation failed, with the reason: their stale answers carry the warning. */
  private readonly failures = new LRUCache<string, string>({ max: 10_000 });
  /** Recent evict() calls; a load that started before one of them must not store what it fetched. */
  private evictions: Array<{ seq: number; prefixes: string[] }> = [];
  private evictSeq = 0;

  constructor(deps: DocCacheDeps) {
    this.deps = deps;
    this.maxStaleMs = deps.maxStaleMs ?? Number.POSITIVE_INFINITY;
  }

  async get(key: string, kind: DocKind, upstream: string, loader: DocLoader): Promise<DocResult> {
    const { clock, policy } = this.deps;
    const cached = await this.read(key, kind, upstream);
    if (this.deps.offline(upstream)) {
      if (cached !== undefined) return { doc: cached.doc, state: 'HIT', ageMs: this.ageOf(cached.doc) };
      throw notFound(`nugate is offline and this document is not cached`);
    }
    if (cached !== undefined) {
      const age = this.ageOf(cached.doc);
      const ttl = policy.ttl(kind, upstream, cached.doc.status);
      if (age < ttl) {
        const state = this.revalidated.delete(key) ? 'REVALIDATED' : 'HIT';
        return { doc: cached.doc, state, ageMs: age };
      }
      // An expired 404 is reloaded in the foreground: its short TTL exists so a new package shows up
      // promptly, and a stale "not found" would also be kept by the client's own 30-minute cache.
      if (age - ttl < this.maxStaleMs && cached.doc.status !== 404) {
        this.refreshInBackground(key, kind, upstream, loader, cached.doc);
        const reason = this.failures.get(key);
        const result: DocResult = { doc: cached.doc, state: 'STALE', ageMs: age };
        if (reason !== undefined) result.warning = cachedCopyWarning(upstream, reason, age);
        return result;
      }
    }
    try {
      const loaded = await this.load(key, kind, upstream, loader, cached?.doc);
      this.failures.delete(key);
      return {
        doc: loaded.doc,
        state: loaded.notModified ? 'REVALIDATED' : 'MISS',
        ageMs: Math.max(0, clock.now() - loaded.doc.storedAt),
      };
    } catch (err) {
      if (cached === undefined) throw err;
      // Stale-if-error: the last good copy, whatever its age (design.md §3).
      const reason = failureReason(upstream, err);
      this.failures.set(key, reason);
      const age = this.ageOf(cached.doc);
      return { doc: cached.doc, state: 'STALE', warning: cachedCopyWarning(upstream, reason, age), ageMs: age };
    }
  }

  async evict(prefixes: string[]): Promise<void> {
    if (prefixes.length === 0) return;
    this.evictSeq++;
    this.evictions.push({ seq: this.evictSeq, prefixes: [...prefixes] });
    if (this.evictions.length > EVICTION_MEMORY) this.evictions.shift();
    const matches = (key: string): boolean => prefixes.some((p) => key.startsWith(p));
    for (const hotKey of [...this.deps.hot.keys()]) {
      if (hotKey.startsWith(HOT_PREFIX) && matches(hotKey.slice(HOT_PREFIX.length))) this.deps.hot.delete(hotKey);
    }
    for (const k of [...this.revalidated.keys()]) if (matches(k)) this.revalidated.delete(k);
    for (const k of [...this.failures.keys()]) if (matches(k)) this.failures.delete(k);
    // A walk over every stored document: evictions follow pushes, which are rare.
    const doomed: string[] = [];
    for await (const k of this.deps.store.keys()) if (matches(k)) doomed.push(k);
    await Promise.all(doomed.map((k) => this.deps.store.delete(k)));
  }

  async *entries(prefix: string): AsyncIterable<[string, StoredDoc]> {
    for await (const [key, record] of this.deps.store.entries()) if (key.startsWith(prefix)) yield [key, record.doc];
  }

  /** Removes documents stored (or last revalidated) before `cutoff` (clock ms); returns how many. */
  async removeStoredBefore(cutoff: number): Promise<number> {
    const doomed: string[] = [];
    for await (const [key, record] of this.deps.store.entries()) if (record.doc.storedAt < cutoff) doomed.push(key);
    for (const key of doomed) {
      this.deps.hot.delete(HOT_PREFIX + key);
      await this.deps.store.delete(key);
    }
    return doomed.length;
  }

  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
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
    this.deps.hot.set(HOT_PREFIX + key, { type: 'doc', record }, record.doc.body.length + HOT_OVERHEAD);
  }

  private async write(key: string, record: DocRecord): Promise<void> {
    this.putHot(key, record);
    // Search answers live a minute, vary with every query and are cheap to ask again: persisting each one was
    // about half the cost of a search miss (bench). They stay in memory only; offline search uses the
    // persisted registrations and flat indexes instead (src/resources/local-index.ts).
    if (record.kind === 'search') return;
    try {
      await this.deps.store.set(key, record);
    } catch (err) {
      // The answer is still good; it is just not persisted (a later restart refetches it).
      this.deps.log.warn({ err, key }, 'metadata store write failed');
    }
  }

  private load(key: string, kind: DocKind, upstream: string, loader: DocLoader, stale: StoredDoc | undefined): Promise<Loaded> {
    const running = this.flights.get(key);
    if (running !== undefined) return running;
    const startSeq = this.evictSeq;
    const flight = (async (): Promise<Loaded> => {
      const result = await loader(stale);
      const doc = toStoredDoc(result, upstream, stale, this.deps.clock.now());
      if (!this.evictedSince(key, startSeq)) await this.write(key, { kind, doc });
      return { doc, notModified: result.kind === 'notModified' };
    })();
    const tracked = flight.finally(() => {
      if (this.flights.get(key) === tracked) this.flights.delete(key);
    });
    this.flights.set(key, tracked);
    return tracked;
  }

  private refreshInBackground(key: string, kind: DocKind, upstream: string, loader: DocLoader, stale: StoredDoc): void {
    if (this.flights.has(key)) return;
    const done = this.load(key, kind, upstream, loader, stale).then(
      (loaded) => {
        this.failures.delete(key);
        if (loaded.notModified) this.revalidated.set(key, true);
        else this.revalidated.delete(key);
      },
      (err: unknown) => {
        // Keep serving the stale copy; later stale answers carry the warning.
        this.failures.set(key, failureReason(upstream, err));
        this.deps.log.warn({ err, key, upstream }, 'background revalidation failed; keeping the stale copy');
      },
    );
    this.background.add(done);
    void done.finally(() => this.background.delete(done));
  }

  private evictedSince(key: string, seq: number): boolean {
    if (seq === this.evictSeq) return false;
    const oldest = this.evictions[0];
    // Evictions after `seq` were forgotten: assume one of them matched rather than resurrect a document.
    if (oldest === undefined || oldest.seq > seq + 1) return true;
    return this.evictions.some((e) => e.seq > seq && e.prefixes.some((p) => key.startsWith(p)));
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
