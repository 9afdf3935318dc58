/**
 * Assembles the cache (design.md §3): hot tier (lru-cache, bytes) → metadata tier (keyv: file, memory or
 * Redis) → blob tier (files under cache.dir/blobs). Resource handlers use `docs` and `blobs`; the CLI uses
 * `stats()` and `prune()` (`nugate cache stats|prune`).
 *
 * @example
 *   const cache = await createCache({ config, log });
 *   const { doc, state } = await cache.docs.get(key, 'metadata', 'nuget.org', loader);
 *   await cache.close();
 */
import { PACKAGE_FILES } from '../nuget/package-files.ts';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { DiskBlobCache } from './blob-cache.ts';
import { fileClaims } from './blob-claims.ts';
import { processBus, type ChangeBus } from './change-bus.ts';
import { redisBus } from './change-bus-redis.ts';
import { tryLock } from './file-lock.ts';
import { fileTotals, redisTotals, storeTotals } from './shared-totals.ts';
import { FsBlobStore } from './blob-fs.ts';
import { BlobIndex } from './blob-index.ts';
import { systemClock, type Clock } from './clock.ts';
import { TieredDocCache } from './doc-cache.ts';
import { createHotTier } from './hot.ts';
import { openMetaStores, type RedisStoreOptions } from './meta.ts';
import { MetaIndex } from './meta-index.ts';
import { createPolicy } from './policy.ts';
import { isBlobEntry, isBlobTotals, isDocRecord, type HotValue } from './records.ts';
import type { BlobCache, BlobFile, DocCache, DocKind, CacheObserver } from './types.ts';

export type { Clock } from './clock.ts';
export type { ChangeBus, ChangeEvent } from './change-bus.ts';
export { blobBodyStream, closeBlobBody, readBlobBody } from './blob-body.ts';

export interface CountAndBytes {
  count: number;
  bytes: number;
}

export interface CacheStats {
  store: 'file' | 'memory' | 'redis';
  blobs: CountAndBytes & { maxSize: number; byFile: Record<BlobFile, CountAndBytes> };
  /** `bytes` counts body characters; `notFound` is how many of them are cached 404s. */
  docs: CountAndBytes & { notFound: number; byKind: Record<DocKind, CountAndBytes> };
  /** The metadata tier as accounted against cache.maxMetadataSize (body bytes + key + per-record overhead). */
  metadata: { entries: number; bytes: number; maxSize: number };
  hot: { entries: number; bytes: number; maxSize: number };
}

/** What `summary()` knows without a walk: the running totals each tier keeps. */
export interface CacheSummary {
  store: CacheStats['store'];
  blobs: CountAndBytes & { maxSize: number };
  metadata: CacheStats['metadata'];
  hot: CacheStats['hot'];
}

export interface PruneOptions {
  /** Evict least recently used blobs until the blob tier holds at most this many bytes (default cache.maxSize). */
  maxSize?: number;
  /** Also remove blobs not served, and documents not refreshed, for this many ms. */
  olderThan?: number;
}

export interface PruneReport {
  blobs: { removed: number; freedBytes: number };
  docs: { removed: number };
  /** Temp files of the metadata store that a crash left behind. */
  tempFiles: number;
  remaining: CountAndBytes;
}

export interface Cache {
  docs: DocCache;
  blobs: BlobCache;
  /**
   * Changes among the processes sharing this cache (change-bus.ts): the app publishes its invalidations here
   * and applies the others' (its local eviction: sources and rendered responses).
   */
  changes: ChangeBus;
  /** Walks the metadata tier: for the CLI and /health-style reports, not the request path. */
  stats(): Promise<CacheStats>;
  prune(opts?: PruneOptions): Promise<PruneReport>;
  /** Running totals, no walk: cheap enough for a page view (the web UI). */
  summary(): CacheSummary;
  /** One read of the metadata store (a Redis read is bounded by its per-operation limit): for /ready. */
  ping(): Promise<void>;
  /**
   * Waits for background work started so far: the start-up walk of the metadata tier, late revalidations,
   * removals, access-time writes, eviction (tests, shutdown).
   */
  settle(): Promise<void>;
  /** Aborts downloads in progress, waits for background work, releases the metadata store. */
  close(): Promise<void>;
}

export interface CreateCacheOptions {
  config: Config;
  clock?: Clock;
  log?: Logger;
  /** Tuning for a redis:// store (key prefix, per-operation timeout, breaker). */
  redis?: RedisStoreOptions;
  /** Told about every answer and eviction of every tier (ops/cache-metrics.ts). */
  observer?: CacheObserver;
}

/** Crash leftovers of the metadata file store younger than this may belong to a write in progress. */
const META_TEMP_MIN_AGE_MS = 60 * 60 * 1000;

const DOC_KINDS: readonly DocKind[] = ['metadata', 'search', 'serviceIndex', 'immutable'];

function zeroes<K extends string>(keys: readonly K[]): Record<K, CountAndBytes> {
  const out = {} as Record<K, CountAndBytes>;
  for (const k of keys) out[k] = { count: 0, bytes: 0 };
  return out;
}

export async function createCache(opts: CreateCacheOptions): Promise<Cache> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const log = (opts.log ?? pino({ level: 'silent' })).child({ component: 'cache' });
  // Offline means no network: a folder upstream (file: URL) is local and keeps serving.
  const local = new Set(config.upstreams.filter((u) => /^file:/i.test(u.url)).map((u) => u.name.toLowerCase()));
  const offline = (upstream: string): boolean => config.offline && !local.has(upstream.toLowerCase());

  const stores = openMetaStores(config.cache.store, config.cache.dir, { clock, ...opts.redis });
  const docStore = stores.open('docs', isDocRecord);
  const state = stores.open('state', isBlobTotals);
  const coord = join(config.cache.dir, 'coord');
  // One total for the shared folder (shared-totals.ts): where the store is shared, so is the counter.
  const totals = stores.redis !== undefined ? redisTotals(stores.redis) : stores.kind === 'file' ? fileTotals(join(coord, 'blob-totals.json')) : storeTotals(state);
  const index = new BlobIndex({ entries: stores.open('blobs', isBlobEntry), state, totals, clock, log });
  const observer = opts.observer;
  const hot = createHotTier<HotValue>({
    maxSize: config.cache.hotMaxSize,
    maxEntrySize: config.cache.hotMaxEntrySize,
    ...(observer === undefined ? {} : { onEvict: () => observer.evicted('memory', 1) }),
  });
  const blobStore = new FsBlobStore(join(config.cache.dir, 'blobs'));

  try {
    const removed = await blobStore.init();
    if (removed > 0) log.info({ removed }, 'removed temp files of downloads interrupted by a crash');
    await index.init();
  } catch (err) {
    await stores.close().catch(() => undefined);
    throw err;
  }
  // Changes made through other processes (change-bus.ts). The cache's own part of a resync: the hot tier.
  const changes = stores.redis !== undefined ? redisBus(stores.redis, log) : processBus(log);
  changes.onChange(async (event) => {
    if (event.type === 'resync') hot.clear();
  });

  const metaIndex = new MetaIndex(config.cache.maxMetadataSize);
  const docs = new TieredDocCache({
    ...(observer === undefined ? {} : { observer }),
    store: docStore,
    hot,
    policy: createPolicy(config),
    clock,
    log,
    offline,
    revalidateTimeoutMs: config.cache.revalidateTimeout,
    index: metaIndex,
  });
  // One walk over the metadata tier seeds its accounting; requests need not wait for it (writes meanwhile are
  // accounted as they happen and win over what the walk finds).
  const seeded = docs.init().catch((err: unknown) => log.warn({ err }, 'cannot walk the metadata tier; cache.maxMetadataSize counts new writes only'));
  const blobs = new DiskBlobCache({
    ...(observer === undefined ? {} : { observer }),
    store: blobStore,
    index,
    hot,
    maxSize: config.cache.maxSize,
    maxBlobBytes: config.limits.packageSize,
    clock,
    log,
    // Processes sharing cache.dir: one download per blob, one evictor at a time (blob-claims.ts, file-lock.ts).
    claims: fileClaims((key) => blobStore.path(key)),
    evictLock: () => tryLock(join(coord, 'evict.lock')),
    offline,
  });

  async function stats(): Promise<CacheStats> {
    const byFile = zeroes(PACKAGE_FILES);
    let blobCount = 0;
    let blobBytes = 0;
    const baseline = { ...(await index.refresh()) };
    for await (const [, entry] of index.entries()) {
      blobCount++;
      blobBytes += entry.size;
      byFile[entry.key.file].count++;
      byFile[entry.key.file].bytes += entry.size;
    }
    await index.correctTotals(baseline, { bytes: blobBytes, count: blobCount });
    const byKind = zeroes(DOC_KINDS);
    let docCount = 0;
    let docBytes = 0;
    let notFound = 0;
    for await (const [, record] of docStore.entries()) {
      docCount++;
      docBytes += record.doc.body.length;
      if (record.doc.status === 404) notFound++;
      byKind[record.kind].count++;
      byKind[record.kind].bytes += record.doc.body.length;
    }
    return {
      store: stores.kind,
      blobs: { count: blobCount, bytes: blobBytes, maxSize: config.cache.maxSize, byFile },
      docs: { count: docCount, bytes: docBytes, notFound, byKind },
      metadata: { entries: metaIndex.size, bytes: metaIndex.bytes, maxSize: metaIndex.maxSize },
      hot: { entries: hot.size, bytes: hot.bytes, maxSize: config.cache.hotMaxSize },
    };
  }

  async function prune(options: PruneOptions = {}): Promise<PruneReport> {
    const report: PruneReport = { blobs: { removed: 0, freedBytes: 0 }, docs: { removed: 0 }, tempFiles: 0, remaining: { count: 0, bytes: 0 } };
    if (options.olderThan !== undefined) {
      const cutoff = clock.now() - options.olderThan;
      const unused = await blobs.removeUnusedSince(cutoff);
      report.blobs.removed += unused.removed;
      report.blobs.freedBytes += unused.freedBytes;
      report.docs.removed = await docs.removeStoredBefore(cutoff);
    }
    const sized = await blobs.shrinkTo(options.maxSize ?? config.cache.maxSize);
    report.blobs.removed += sized.removed;
    report.blobs.freedBytes += sized.freedBytes;
    report.tempFiles = await stores.sweep(META_TEMP_MIN_AGE_MS);
    report.remaining = { ...index.current };
    return report;
  }

  async function settle(): Promise<void> {
    await seeded;
    await docs.settle();
    await blobs.settle();
  }

  let closed: Promise<void> | undefined;
  function close(): Promise<void> {
    closed ??= (async () => {
      await changes.close();
      await blobs.close();
      await seeded;
      await docs.settle();
      await stores.close();
    })();
    return closed;
  }

  function summary(): CacheSummary {
    return {
      store: stores.kind,
      blobs: { ...index.current, maxSize: config.cache.maxSize },
      metadata: { entries: metaIndex.size, bytes: metaIndex.bytes, maxSize: metaIndex.maxSize },
      hot: { entries: hot.size, bytes: hot.bytes, maxSize: config.cache.hotMaxSize },
    };
  }

  async function ping(): Promise<void> {
    // Redis: a PING through the store's guarded link (time limit, breaker, fails at once while disconnected); a
    // keyv read would not do, as the adapter turns a lost connection into a miss.
    if (stores.redis !== undefined) {
      await stores.redis.run('ready', (client) => client.ping());
      return;
    }
    // A key nothing writes: the answer is "absent", and only reaching the store matters.
    await docStore.get('nugate:ready-probe');
  }

  return { docs, blobs, changes, stats, prune, summary, ping, settle, close };
}
