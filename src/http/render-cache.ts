/**
 * Rendered responses, ready to send, keyed by public URL. A hit here is the whole hit path: no JSON parse, no
 * merge, no upstream. Entries live only as long as the documents they were built from stay fresh, and carry the
 * ids they describe so a publish can evict them.
 */
import { LRUCache } from 'lru-cache';
import type { Rendered } from './respond.ts';

interface Entry {
  rendered: Rendered;
  /** Lowercase package ids this response depends on ('*' for search-like responses). */
  ids: string[];
}

export class RenderCache {
  private readonly lru: LRUCache<string, Entry>;

  constructor(maxBytes: number, now: () => number) {
    this.lru = new LRUCache<string, Entry>({
      maxSize: Math.max(1024 * 1024, maxBytes),
      sizeCalculation: (e) => e.rendered.body.length + 512,
      ttlAutopurge: false,
      perf: { now },
    });
  }

  get(key: string): Rendered | undefined {
    return this.lru.get(key)?.rendered;
  }

  /** ttlMs <= 0 means "do not keep". */
  set(key: string, rendered: Rendered, ttlMs: number, ids: string[]): void {
    if (ttlMs <= 0) return;
    this.lru.set(key, { rendered, ids }, { ttl: ttlMs });
  }

  /** Drops every response about one of these ids, and every search-like response. */
  evictIds(ids: string[]): void {
    const wanted = new Set(ids.map((i) => i.toLowerCase()));
    for (const [key, entry] of this.lru.entries()) {
      if (entry.ids.some((i) => i === '*' || wanted.has(i))) this.lru.delete(key);
    }
  }

  clear(): void {
    this.lru.clear();
  }
}
