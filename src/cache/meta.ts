/**
 * The metadata tier (design.md §3 "Tiers"): keyv over a pluggable store. `cache.store` picks it:
 * - "file" (default): one JSON file per key under `cache.dir/meta/<namespace>/` (meta-file-store.ts);
 * - "memory": a Map in this process, lost at exit (tests, throwaway runs);
 * - "redis://…" / "rediss://…": @keyv/redis, shared by several instances (design.md §8).
 * Each namespace ("docs", "blobs", "state") is its own keyv, so a maintenance walk over blob entries never
 * reads documents.
 */
import { join } from 'node:path';
import { FileStore } from './meta-file-store.ts';
import { KeyvMetaStore, keyvFor } from './meta-keyv.ts';
import { redisStores, type RedisLink, type RedisStoreOptions } from './meta-redis.ts';

export type { RedisLink, RedisStoreOptions } from './meta-redis.ts';

/** The small interface the cache uses; one contract suite (test/contract/meta-store.contract.ts) covers it. */
export interface MetaStore<V> {
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V): Promise<void>;
  /** True when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Every entry; a full walk, for maintenance only (stats, prune, eviction by size). */
  entries(): AsyncIterable<[string, V]>;
  /** Every key; a full walk, but the file store reads only the head of each file (evict by prefix). */
  keys(): AsyncIterable<string>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

export type MetaNamespace = 'docs' | 'blobs' | 'state';

export interface MetaStores {
  kind: 'file' | 'memory' | 'redis';
  /** The Redis connection, for a redis:// store: what instances coordinate through (events, shared totals). */
  redis?: RedisLink;
  open<V>(namespace: MetaNamespace, isValue: (v: unknown) => v is V): MetaStore<V>;
  /** Removes temp files older than minAgeMs that a crash left (file store only; a full walk, for prune). */
  sweep(minAgeMs: number): Promise<number>;
  close(): Promise<void>;
}

const NAMESPACES: readonly MetaNamespace[] = ['docs', 'blobs', 'state'];

function fileStores(root: string): MetaStores {
  return {
    kind: 'file',
    open<V>(namespace: MetaNamespace, isValue: (v: unknown) => v is V): MetaStore<V> {
      const store = new FileStore({ dir: join(root, namespace) });
      return new KeyvMetaStore(keyvFor(store, undefined), isValue, { entries: () => store.iterator(), keys: () => store.keys() }, undefined);
    },
    async sweep(minAgeMs) {
      let removed = 0;
      for (const ns of NAMESPACES) removed += await new FileStore({ dir: join(root, ns) }).sweepTemp(minAgeMs);
      return removed;
    },
    async close() {},
  };
}

function memoryStores(): MetaStores {
  const maps = new Map<MetaNamespace, Map<string, unknown>>();
  return {
    kind: 'memory',
    open<V>(namespace: MetaNamespace, isValue: (v: unknown) => v is V): MetaStore<V> {
      let map = maps.get(namespace);
      if (map === undefined) {
        map = new Map<string, unknown>();
        maps.set(namespace, map);
      }
      return new KeyvMetaStore(keyvFor(map, undefined), isValue, undefined, undefined);
    },
    sweep: async () => 0,
    async close() {},
  };
}

/** Picks the store from `cache.store`; throws a message naming the bad value. */
export function openMetaStores(store: string, cacheDir: string, redis?: RedisStoreOptions): MetaStores {
  if (store === 'file') return fileStores(join(cacheDir, 'meta'));
  if (store === 'memory') return memoryStores();
  if (/^rediss?:\/\//.test(store)) return redisStores(store, redis);
  throw new Error(`cache.store: expected "file", "memory" or a redis:// URL, got ${JSON.stringify(store)}`);
}
