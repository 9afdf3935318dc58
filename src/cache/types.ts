/**
 * Contracts of the cache layer (design.md §3). Resource handlers talk only to these interfaces;
 * the tiers (hot lru-cache, keyv metadata, disk blobs) sit behind them.
 */
import type { PackageFile } from '../nuget/package-files.ts';
import type { FileHandle } from 'node:fs/promises';
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
  /**
   * Why a stale copy was served (state STALE), naming the upstream by its configured name only, never a URL,
   * host or address: e.g. `upstream "nuget.org" unavailable (timeout)`. Whether it reaches the client as
   * X-NuGet-Warning is decided above the cache (cache.staleWarning).
   */
  staleReason?: string;
  ageMs: number;
}

export type DocLoader = (stale: StoredDoc | undefined) => Promise<LoadResult>;

export interface DocGetOptions {
  /**
   * Revalidate even when the copy is fresh (same deadline and stale fallback as an expired copy). For a
   * cached version list that lacks the version a client asks for. Ignored offline.
   */
  revalidate?: boolean;
}

export interface DocCache {
  /**
   * Returns the document for `key`. The rule: fresh within the TTL; after it, revalidate before answering,
   * and serve the stale copy only when the upstream fails or misses `cache.revalidateTimeout`.
   * - fresh (within the kind's TTL, and no `revalidate`) → HIT, no loader call;
   * - missing → loader (concurrent callers share one call) → MISS; a failure is rethrown;
   * - expired (or `revalidate`) → conditional revalidation through the loader (it receives the stored copy and
   *   its validators), awaited up to the deadline → REVALIDATED on 304, MISS with the new content otherwise;
   * - the loader fails or misses the deadline → the stored copy, whatever its age, with state STALE and a
   *   `staleReason`; a late revalidation still finishes in the background and is stored for the next request;
   * - offline → cached copy (any age) or NotFound, loader never called.
   * 404s are cached for `ttl.notFound`, then removed. Thrown errors (5xx, timeouts, invalid bodies) are never
   * cached.
   */
  get(key: string, kind: DocKind, upstream: string, loader: DocLoader, opts?: DocGetOptions): Promise<DocResult>;
  /**
   * Stores a document obtained elsewhere (`nugate import`), unless the copy held was stored at the same time or
   * later; true when it was stored.
   */
  put(key: string, kind: DocKind, doc: StoredDoc): Promise<boolean>;
  /**
   * Forgets exactly these keys (hot and metadata tiers; no walk over the store). A load of one of them that is
   * in flight still answers its callers but stores nothing.
   */
  evictKeys(keys: string[]): Promise<void>;
  /** Forgets every cached search answer (they live in memory only, so this walks the hot tier, not the store). */
  evictSearches(): void;
  /** Every stored document whose key starts with `prefix` (a walk over the store: for offline search, not hot paths). */
  entries(prefix: string): AsyncIterable<[string, StoredDoc]>;
  /** Resolves when loads and removals started so far have finished (tests, shutdown). */
  settle(): Promise<void>;
}

/** A package-like file: nupkg, nuspec, icon, readme. Immutable once stored. */
export type BlobFile = PackageFile;

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
  /**
   * Expected SHA-512 (base64) when the upstream advertises one (e.g. registration packageHash): a download
   * that does not match is never indexed, and its readers' streams error.
   */
  sha512?: string;
}

/** Where the bytes of a blob come from when serving it. */
export type BlobBody =
  | { kind: 'buffer'; data: Buffer }
  /**
   * A stored file, already open: an eviction (unlink) after the lookup cannot break the send. Whoever gets
   * this body owns the handle and must consume or close it (blob-body.ts: blobBodyStream, closeBlobBody).
   * `path` is for logs only.
   */
  | { kind: 'file'; path: string; handle: FileHandle }
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
  /**
   * A download in flight: true once every byte arrived and passed verification, false if it failed. A caller
   * that only wants the blob in the cache (warming) closes the body and awaits this, rather than reading back
   * bytes it does not need.
   */
  settled?: Promise<boolean>;
  /**
   * A package download in flight: its nuspec as soon as its first bytes show it (nuget/nuspec-sniff.ts), for
   * warming only (the bytes are not verified yet); undefined when they do not.
   */
  nuspec?: Promise<Buffer | undefined>;
}

export type BlobLoader = () => Promise<UpstreamBody | 'notFound'>;

/** A complete, verified blob as the index describes it. */
export interface StoredBlob {
  key: BlobKey;
  size: number;
  /** SHA-512 of the content, base64. */
  sha512: string;
  /** Absolute path of its file (it may vanish: an eviction can run at any time). */
  path: string;
}

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
  /** Every indexed blob with the path of its file (a walk over the index: `nugate export`, not the request path). */
  entries(): AsyncIterable<StoredBlob>;
  /**
   * Forget every blob of an id (all upstreams, all versions), found by listing the id's folder (no walk).
   * Downloads of the id in flight still serve their clients but keep nothing; open file bodies stay readable.
   */
  evictId(id: string): Promise<void>;
}

/** Where an answer came from: the hot tier, the metadata or blob store, the upstream, or the rendered-response memo. */
export type CacheTier = 'memory' | 'store' | 'upstream' | 'rendered';
export type CacheOutcome = 'hit' | 'miss' | 'stale' | 'revalidated' | 'coalesced';

/** Told about every cache answer and eviction, for /metrics (ops/cache-metrics.ts). Must be cheap and never throw. */
export interface CacheObserver {
  result(kind: 'document' | 'package', tier: CacheTier, outcome: CacheOutcome): void;
  evicted(tier: 'memory' | 'metadata' | 'disk', count: number): void;
}
