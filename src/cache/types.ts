/**
 * Contracts of the cache layer (design.md §3). Resource handlers talk only to these interfaces;
 * the tiers (hot lru-cache, keyv metadata, disk blobs) sit behind them.
 */
import type { Readable } from 'node:stream';

/** Freshness policy of a JSON document; each maps to a TTL in `cache.ttl` (404s use `notFound`). */
export type DocKind = 'metadata' | 'search' | 'serviceIndex' | 'immutable';

/** How a response was produced, sent to clients as `X-Cache`. */
export type CacheState = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED';

export interface Validators {
  etag?: string;
  lastModified?: string;
}

/** One upstream JSON document as stored: already rewritten to the canonical (sentinel) base. */
export interface StoredDoc {
  status: 200 | 404;
  /** Canonical JSON text; empty for 404. */
  body: string;
  /** The upstream's validators, used for conditional revalidation. */
  validators: Validators;
  /** When this copy was stored or last revalidated (ms since epoch, from the injected clock). */
  storedAt: number;
  /** Name of the upstream that produced it. */
  upstream: string;
}

/** What a loader reports back after talking to the upstream. Failures are thrown (UpstreamError). */
export type LoadResult =
  | { kind: 'ok'; body: string; validators: Validators }
  | { kind: 'notModified'; validators?: Validators }
  | { kind: 'notFound' };

export interface DocResult {
  doc: StoredDoc;
  state: CacheState;
  /** Set when a stale copy was served because the upstream failed; goes out as X-NuGet-Warning. */
  warning?: string;
  ageMs: number;
}

export type DocLoader = (stale: StoredDoc | undefined) => Promise<LoadResult>;

export interface DocCache {
  /**
   * Returns the document for `key`:
   * - fresh (within the kind's TTL) → HIT, no loader call;
   * - missing → loader (concurrent callers share one call) → MISS;
   * - expired → stale-while-revalidate, then conditional revalidation through the loader (it receives the
   *   stale copy and its validators) → REVALIDATED on 304;
   * - loader throws and a copy exists → that copy, whatever its age, with state STALE and a warning;
   * - loader throws and nothing is cached → the error is rethrown;
   * - offline → cached copy (any age) or NotFound, loader never called.
   * 404s are cached for `ttl.notFound`. Thrown errors (5xx, timeouts, invalid bodies) are never cached.
   */
  get(key: string, kind: DocKind, upstream: string, loader: DocLoader): Promise<DocResult>;
  /** Forget every key that starts with one of the prefixes (hot and metadata tiers). */
  evict(prefixes: string[]): Promise<void>;
  /** Every stored document whose key starts with `prefix` (a walk over the store: for offline search, not hot paths). */
  entries(prefix: string): AsyncIterable<[string, StoredDoc]>;
  /** Resolves when background revalidations started so far have finished (tests, shutdown). */
  settle(): Promise<void>;
}

/** A package-like file: nupkg, nuspec, icon, readme. Immutable once stored. */
export type BlobFile = 'nupkg' | 'nuspec' | 'icon' | 'readme';

export interface BlobKey {
  upstream: string;
  /** Lowercase id. */
  id: string;
  /** Normalized, lowercase version. */
  version: string;
  file: BlobFile;
}

/** An upstream response body to store. The stream is consumed exactly once. */
export interface UpstreamBody {
  stream: Readable;
  /** Content-Length from the upstream, when it sent one. */
  length?: number;
  contentType?: string;
  /** Expected SHA-512 (base64) when the upstream advertises one (e.g. registration packageHash). */
  sha512?: string;
}

/** Where the bytes of a blob come from when serving it. */
export type BlobBody =
  | { kind: 'buffer'; data: Buffer }
  | { kind: 'file'; path: string }
  /** A body that is still downloading; the stream ends when the download does (or errors if it fails). */
  | { kind: 'stream'; stream: Readable };

export interface BlobResult {
  body: BlobBody;
  /** Known size in bytes (always known for buffer and file). */
  size?: number;
  contentType: string;
  /** Strong ETag: quoted content hash, known once the blob is complete. */
  etag?: string;
  sha512?: string;
  state: CacheState;
}

export type BlobLoader = () => Promise<UpstreamBody | 'notFound'>;

export interface BlobCache {
  /**
   * Serves a stored blob, or calls the loader once for all concurrent callers and streams the download to
   * every one of them while writing it to disk. A download is verified (length, zip + nuspec id/version for
   * nupkg, sha512 when known) before it is indexed; a failed one is never indexed.
   * Returns undefined when the loader reports notFound (or, offline, when nothing is stored).
   */
  get(key: BlobKey, loader: BlobLoader): Promise<BlobResult | undefined>;
  /** True when the blob is stored (no upstream call). */
  has(key: BlobKey): Promise<boolean>;
  /** Forget every blob of an id (all upstreams, all versions). */
  evictId(id: string): Promise<void>;
}
