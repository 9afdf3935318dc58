/**
 * The Source contract: the only thing resources talk to (ARCHITECTURE.md). One Source per configured upstream;
 * `HttpSource` (a V3 feed over HTTP) and `FolderSource` (a folder of .nupkg files) implement it. A source owns its
 * URL building, its document keys (keys.ts), its freshness and its fetches; resources only merge and render.
 *
 * Every JSON value a source hands out is canonical: URLs that point into a feed are written against
 * FEED_SENTINEL (feed-urls.ts), never against an upstream. Failures are thrown as NugateError (errors.ts): an
 * UpstreamError when the upstream could not answer and nothing usable was held.
 */
import type { BlobFile, BlobResult, CacheState } from '../cache/types.ts';
import type { Leaf, Json } from '../merge/registration.ts';
import type { SearchParams } from '../merge/search.ts';
import type { ServiceIndexEntry } from '../nuget/service-index.ts';
import type { Dispatcher } from 'undici';

export type { Leaf, Json };

/** How an answer was obtained: it decides X-Cache, Age and how long a rendered response may be reused. */
export interface AnswerMeta {
  state: CacheState;
  /** Age of the oldest document the answer came from. */
  ageMs: number;
  /** How much longer the answer stays fresh (0 for a stale copy or an answer that must not be reused). */
  freshMs: number;
  /** Set when a stale copy was served because the upstream failed or missed the revalidation deadline. */
  staleReason?: string;
}

export type Answer<T> = { found: true; value: T; meta: AnswerMeta } | { found: false; meta: AnswerMeta };

/** What a source offers; the same online and offline (the service index must not change with the mode). */
export interface Capabilities {
  /** A search service of its own (without one, search is answered from what nugate holds). */
  search: boolean;
  vulnerability: boolean;
  publish: boolean;
  symbols: boolean;
  /** Browser templates to copy into nugate's service index (never on a proxied API origin). */
  browserTemplates: ServiceIndexEntry[];
}

export interface SearchPage {
  totalHits: number;
  /** Search results as the upstream shaped them (canonical URLs). */
  data: Json[];
}

export interface AutocompletePage {
  totalHits: number;
  data: string[];
}

export interface VersionsOptions {
  /**
   * A version the caller is about to look for: when the held list lacks it, the list is revalidated before the
   * answer (a version published upstream must not be a 404 while a stale list is held).
   */
  mustInclude?: string;
}

/** One package the source holds or can describe without a network request (local search, offline registration). */
export interface HeldPackage {
  /** Lowercase id. */
  id: string;
  displayId: string;
  versions: Array<{ version: string; listed: boolean; entry?: Json }>;
}

/** Where a push for this source goes. */
export type PublishTarget =
  | {
      kind: 'http';
      url: string;
      /** Credentials of the upstream, for this URL only (mapped key mode). */
      credentials: Record<string, string>;
      /** The upstream's own connections: its proxy, CA bundle and connection limit apply to pushes too. */
      dispatcher?: Dispatcher;
    }
  | { kind: 'folder' };

export interface Source {
  /** The configured upstream name: the only way a source is named in anything nugate sends or logs. */
  readonly name: string;
  /** True for sources that need no network (a folder): they keep serving offline. */
  readonly local: boolean;
  capabilities(): Promise<Capabilities>;
  /** Versions of an id (lowercase normalized, as the flat container lists them). */
  versions(id: string, opts?: VersionsOptions): Promise<Answer<string[]>>;
  /** Registration leaves of an id (SemVer2 hive), completed from held nuspecs where the upstream's are bare. */
  registration(id: string): Promise<Answer<Leaf[]>>;
  search(params: SearchParams, extra: Record<string, string>): Promise<Answer<SearchPage>>;
  autocomplete(params: SearchParams): Promise<Answer<AutocompletePage>>;
  autocompleteVersions(id: string, params: SearchParams): Promise<Answer<string[]>>;
  /** A package file; undefined when the source does not have it. */
  file(id: string, version: string, file: BlobFile): Promise<BlobResult | undefined>;
  /** True when the file can be served without a network request. */
  holds(id: string, version: string, file: BlobFile): Promise<boolean>;
  /** The source's VulnerabilityInfo index (canonical, page URLs pointing at nugate). */
  vulnerabilityIndex(): Promise<Answer<unknown>>;
  /** A linked document (vulnerability page, catalog entry) named by an opaque link token from a canonical document. */
  linked(token: string): Promise<Answer<unknown>>;
  /** Packages the source can describe from what nugate holds (no network). */
  held(): Promise<HeldPackage[]>;
  publishTarget(kind: 'package' | 'symbols'): Promise<PublishTarget | undefined>;
  /** Forgets everything held about an id (after a publish through nugate). */
  invalidate(id: string): Promise<void>;
  /** Breaker state for /health and /metrics. */
  health(): 'closed' | 'open' | 'half-open';
  close(): Promise<void>;
}
