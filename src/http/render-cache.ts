/**
 * Rendered responses, ready to send, keyed by public URL. A hit here is the whole hit path: no JSON parse, no
 * merge, no upstream. Entries live only as long as the answers they were built from stay fresh, and carry the ids
 * they describe, indexed, so a publish or a newly held package evicts exactly its responses without a walk.
 */
import { LRUCache } from 'lru-cache';
import type { Rendered } from './respond.ts';

interface Entry {
  rendered: Rendered;
  /** Lowercase package ids this response depends on ('*' for search-like responses). */
  ids: string[];
}

/**
 * A request target (path and non-empty query) that WHATWG URL serializes unchanged: only unreserved characters,
 * sub-delims, ':', '@', '/' and '%', no dot segment (literal or percent-encoded), no fragment. Anything else
 * (quotes, spaces, "/./", "%2e", an empty "?") is normalized through `new URL` first.
 */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]+)?$/;
const DOT_SEGMENT = /\/(?:\.|%2e)/i;

export function isPlainTarget(target: string): boolean {
  return PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target);
}

/** The key of a rendered response: the public root it was rendered for and the request target. */
export function renderKeyOf(root: string, target: string): string {
  return `${root}\u0000${target}`;
}

export class RenderCache {
  private readonly lru: LRUCache<string, Entry>;
  /** id → keys of the responses that describe it; kept in step with the LRU by its dispose hook. */
  private readonly byId = new Map<string, Set<string>>();

  constructor(maxBytes: number, now: () => number) {
    this.lru = new LRUCache<string, Entry>({
      maxSize: Math.max(1024 * 1024, maxBytes),
      sizeCalculation: (e) => e.rendered.body.length + 512,
      ttlAutopurge: false,
      perf: { now },
      dispose: (entry, key) => this.unindex(key, entry.ids),
    });
  }

  get(key: string): Rendered | undefined {
    return this.lru.get(key)?.rendered;
  }

  /** ttlMs <= 0 means "do not keep". */
  set(key: string, rendered: Rendered, ttlMs: number, ids: string[]): void {
    if (ttlMs <= 0) return;
    this.lru.set(key, { rendered, ids }, { ttl: ttlMs });
    // set() disposed any previous entry under this key (and unindexed it) before this point.
    if (!this.lru.has(key)) return;
    for (const id of ids) {
      let keys = this.byId.get(id);
      if (keys === undefined) this.byId.set(id, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Drops every response about one of these ids, and every search-like response. */
  evictIds(ids: string[]): void {
    for (const id of [...ids.map((i) => i.toLowerCase()), '*']) {
      const keys = this.byId.get(id);
      if (keys === undefined) continue;
      for (const key of [...keys]) this.lru.delete(key);
    }
  }

  clear(): void {
    this.lru.clear();
  }

  private unindex(key: string, ids: string[]): void {
    for (const id of ids) {
      const keys = this.byId.get(id);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.byId.delete(id);
    }
  }
}
