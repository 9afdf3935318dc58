/**
 * Everything a request handler needs, built once at start (src/app.ts) and passed down explicitly.
 */
import type { Logger } from 'pino';
import type { Config } from './config/schema.ts';
import type { BlobCache, DocCache } from './cache/types.ts';
import type { Upstream } from './upstream/upstream.ts';
import type { SourceMapping } from './merge/mapping.ts';
import type { RenderCache } from './http/render-cache.ts';
import type { Clock } from './cache/clock.ts';
import type { Policy } from './cache/policy.ts';

export type { Clock } from './cache/clock.ts';

export interface Services {
  config: Config;
  docs: DocCache;
  blobs: BlobCache;
  render: RenderCache;
  /** In priority order (the order of `upstreams` in the config). */
  upstreams: Upstream[];
  mapping: SourceMapping;
  /** Freshness per kind and upstream: the cache's own policy, so rendered responses expire with their documents. */
  policy: Policy;
  clock: Clock;
  log: Logger;
  /** Evicts every cached resource of an id (after a publish through nugate). */
  evictId(id: string): Promise<void>;
}

/** A feed is the merged view (/v3/) or a single upstream's view (/upstreams/{name}/v3/). */
export interface Feed {
  /** "merged", or the upstream's name for a per-upstream view. */
  name: string;
  /** Path of the feed base under the public root, without leading slash, ending with '/': "v3/" */
  path: string;
  upstreams: Upstream[];
}

/** Upstreams of this feed that may serve `id` (packageSourceMapping), in priority order. */
export function eligibleUpstreams(s: Services, feed: Feed, id: string): Upstream[] {
  const names = new Set(s.mapping.eligible(id).map((n) => n.toLowerCase()));
  return feed.upstreams.filter((u) => names.has(u.name.toLowerCase()));
}
