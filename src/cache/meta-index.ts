/**
 * Bookkeeping that bounds the metadata tier (style.md rule 11) without walking the store on a write:
 * - a running total of what the stored documents cost (body bytes + key + a per-record overhead), with the
 *   keys in least-recently-stored-or-used order, so going over `cache.maxMetadataSize` names exactly which
 *   keys to remove;
 * - the expiry of negative (404) entries, so they are removed once `ttl.notFound` has passed instead of
 *   staying in the store forever.
 * It lives in memory, about 150 B per stored document (measured: 200k entries, 33-character keys), i.e. at most
 * ~15% of `cache.maxMetadataSize` when every record is tiny (each is charged at least META_RECORD_OVERHEAD), and
 * is seeded by one walk at start-up.
 * With a store shared by several instances (Redis) each instance accounts what it wrote and found at start.
 */

/** What a stored record costs besides its body: the key line, validators, the store's envelope and file. */
export const META_RECORD_OVERHEAD = 1024;

/** Accounted cost of one stored document. */
export function metaCost(key: string, body: string): number {
  return Buffer.byteLength(body) + key.length + META_RECORD_OVERHEAD;
}

export interface SeedEntry {
  key: string;
  bytes: number;
  storedAt: number;
  /** Set for negative entries: when they must go (clock ms). */
  expiresAt?: number;
}

/** A binary min-heap of expiry times; stale nodes (key re-stored since) are skipped when popped. */
class ExpiryHeap {
  private readonly nodes: Array<{ at: number; key: string }> = [];

  get size(): number {
    return this.nodes.length;
  }

  peek(): { at: number; key: string } | undefined {
    return this.nodes[0];
  }

  push(at: number, key: string): void {
    const nodes = this.nodes;
    nodes.push({ at, key });
    let i = nodes.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = nodes[parent];
      const c = nodes[i];
      if (p === undefined || c === undefined || p.at <= c.at) break;
      nodes[parent] = c;
      nodes[i] = p;
      i = parent;
    }
  }

  pop(): { at: number; key: string } | undefined {
    const nodes = this.nodes;
    const top = nodes[0];
    const last = nodes.pop();
    if (top === undefined || last === undefined || nodes.length === 0) return top;
    nodes[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if ((nodes[l]?.at ?? Infinity) < (nodes[min]?.at ?? Infinity)) min = l;
      if ((nodes[r]?.at ?? Infinity) < (nodes[min]?.at ?? Infinity)) min = r;
      if (min === i) return top;
      const a = nodes[i];
      const b = nodes[min];
      if (a === undefined || b === undefined) return top;
      nodes[i] = b;
      nodes[min] = a;
      i = min;
    }
  }
}

export class MetaIndex {
  private readonly maxBytes: number;
  /** key → accounted bytes; Map order is least recently stored or used first. */
  private items = new Map<string, number>();
  /** key → expiry of the negative entry stored under it. */
  private readonly negatives = new Map<string, number>();
  private readonly expiries = new ExpiryHeap();
  private total = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.items.size;
  }

  get maxSize(): number {
    return this.maxBytes;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  /**
   * Accounts a write (replacing what the key held) and returns the keys to remove to get back under the cap,
   * least recently stored or used first. That may be the key just written, when it alone is over the cap.
   */
  record(key: string, bytes: number, expiresAt?: number): string[] {
    this.forget(key);
    this.items.set(key, bytes);
    this.total += bytes;
    if (expiresAt !== undefined) this.expireAt(key, expiresAt);
    return this.overflow();
  }

  /** Marks a key as just used (a hit): it moves to the far end of the eviction order. */
  touch(key: string): void {
    const bytes = this.items.get(key);
    if (bytes === undefined) return;
    this.items.delete(key);
    this.items.set(key, bytes);
  }

  /** Stops accounting a key; true when it was accounted. */
  remove(key: string): boolean {
    return this.forget(key);
  }

  /** Negative entries whose time has come (they are no longer accounted; the caller removes them). */
  expired(now: number): string[] {
    const out: string[] = [];
    for (let top = this.expiries.peek(); top !== undefined && top.at <= now; top = this.expiries.peek()) {
      this.expiries.pop();
      // A node whose key was re-stored (or removed) since is stale: the key's current expiry decides.
      if (this.negatives.get(top.key) === top.at) {
        this.forget(top.key);
        out.push(top.key);
      }
    }
    return out;
  }

  /**
   * Adds what a start-up walk found: older than anything recorded since start (which wins for the same key),
   * oldest first. Returns the keys to remove to get under the cap.
   */
  seed(entries: SeedEntry[]): string[] {
    const sorted = [...entries].sort((a, b) => a.storedAt - b.storedAt);
    const merged = new Map<string, number>();
    for (const e of sorted) {
      if (this.items.has(e.key) || merged.has(e.key)) continue;
      merged.set(e.key, e.bytes);
      this.total += e.bytes;
      if (e.expiresAt !== undefined) this.expireAt(e.key, e.expiresAt);
    }
    for (const [key, bytes] of this.items) merged.set(key, bytes);
    this.items = merged;
    return this.overflow();
  }

  private expireAt(key: string, at: number): void {
    this.negatives.set(key, at);
    this.expiries.push(at, key);
  }

  private forget(key: string): boolean {
    const bytes = this.items.get(key);
    this.negatives.delete(key);
    if (bytes === undefined) return false;
    this.items.delete(key);
    this.total -= bytes;
    return true;
  }

  private overflow(): string[] {
    const out: string[] = [];
    let total = this.total;
    for (const [key, bytes] of this.items) {
      if (total <= this.maxBytes) break;
      out.push(key);
      total -= bytes;
    }
    for (const key of out) this.forget(key);
    return out;
  }
}
