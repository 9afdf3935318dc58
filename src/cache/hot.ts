/**
 * The hot tier (design.md §3 "Tiers"): ready-to-send bodies in memory, bounded in bytes (style.md rule 11).
 * Node serves a Buffer several times faster than a disk file (deps.md Table C), so documents and small
 * complete packages live here. It is a pure LRU by bytes: no TTL of its own; freshness is the policy's job.
 */
import { LRUCache } from 'lru-cache';

/**
 * What an entry costs in memory besides its payload: the key, the record objects and lru-cache's own slots.
 * Measured with test/unit/cache/measure-hot-overhead.ts (200k not-found documents, Node 20): about 340 B of
 * heap and 360-500 B of RSS per entry with a 35-character key, so 512 B plus the key keeps the real memory of
 * the hot tier within `cache.hotMaxSize` (issue 8 measured RSS growing ~0.8 KB per 404 entry while 256 B
 * were charged, counting everything a request leaves behind; the hot tier's own share is what is charged here).
 * Outside this bound: the metadata accounting (meta-index.ts), about 150 B per stored document.
 */
export const HOT_ENTRY_OVERHEAD = 512;

/** Bytes to charge for an entry: payload + key + overhead. */
export function hotCost(key: string, payloadBytes: number): number {
  return payloadBytes + key.length + HOT_ENTRY_OVERHEAD;
}

export interface HotTier<V extends object> {
  get(key: string): V | undefined;
  /** Like get, without making the entry more recent (walks that inspect entries). */
  peek(key: string): V | undefined;
  /** Stores the value unless it is larger than the entry limit. */
  set(key: string, value: V, bytes: number): void;
  delete(key: string): void;
  /** Drops everything (this process may have missed changes made by others: cache/change-bus.ts `resync`). */
  clear(): void;
  /** Would a value of this size be kept? (Lets callers skip reading a file they could not keep.) */
  accepts(bytes: number): boolean;
  keys(): IterableIterator<string>;
  readonly size: number;
  readonly bytes: number;
}

export interface HotOptions {
  maxSize: number;
  maxEntrySize: number;
  /** Called when the LRU pushes an entry out to make room (not for deletes or replacements). */
  onEvict?: () => void;
}

/** A hot tier; with maxSize 0 it keeps nothing (lru-cache refuses a zero bound). */
export function createHotTier<V extends object>(opts: HotOptions): HotTier<V> {
  if (opts.maxSize < 1 || opts.maxEntrySize < 1) {
    return {
      get: () => undefined,
      peek: () => undefined,
      set: () => undefined,
      delete: () => undefined,
      clear: () => undefined,
      accepts: () => false,
      keys: () => [][Symbol.iterator](),
      size: 0,
      bytes: 0,
    };
  }
  const onEvict = opts.onEvict;
  const lru = new LRUCache<string, V>({
    maxSize: opts.maxSize,
    maxEntrySize: Math.min(opts.maxEntrySize, opts.maxSize),
    ...(onEvict === undefined ? {} : { dispose: (_v: V, _k: string, reason: LRUCache.DisposeReason) => reason === 'evict' && onEvict() }),
  });
  return {
    get: (key) => lru.get(key),
    peek: (key) => lru.peek(key),
    set(key, value, bytes) {
      // lru-cache drops an over-sized entry itself; checking first also removes an older copy under the key.
      if (bytes > opts.maxEntrySize || bytes > opts.maxSize) {
        lru.delete(key);
        return;
      }
      lru.set(key, value, { size: Math.max(1, bytes) });
    },
    delete: (key) => void lru.delete(key),
    clear: () => lru.clear(),
    accepts: (bytes) => bytes <= opts.maxEntrySize && bytes <= opts.maxSize,
    keys: () => lru.keys(),
    get size() {
      return lru.size;
    },
    get bytes() {
      return lru.calculatedSize;
    },
  };
}
