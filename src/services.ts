/**
 * Everything a request handler needs, built once at start (src/app.ts) and passed down explicitly.
 */
import type { Logger } from 'pino';
import type { Config } from './config/schema.ts';
import type { Source } from './sources/source.ts';
import type { SourceMapping } from './merge/mapping.ts';
import type { RenderCache } from './http/render-cache.ts';
import type { Clock } from './cache/clock.ts';
import type { Warmer } from './warm/warmer.ts';
import type { CacheObserver } from './cache/types.ts';

export type { Clock } from './cache/clock.ts';

export interface Services {
  config: Config;
  render: RenderCache;
  /** Package files held in memory, by public URL, for the fast hit path (http/fast-hit.ts). */
  packageHits: RenderCache;
  /** One per upstream, in priority order (the order of `upstreams` in the config). */
  sources: Source[];
  mapping: SourceMapping;
  clock: Clock;
  log: Logger;
  /** Decides whether a stale answer carries X-NuGet-Warning (cache.staleWarning). */
  warnStale(sessionId: string | undefined): boolean;
  /** Told about answers from the rendered-response memo (metrics by cache tier). */
  cacheObserver?: CacheObserver;
  /** Dependency warming (undefined when turned off or offline). */
  warm?: Warmer;
  /** Forgets everything held about an id, in every source and every rendered response (after a publish). */
  invalidate(id: string): Promise<void>;
}

/** A feed is the merged view (/v3/) or a single upstream's view (/upstreams/{name}/v3/). */
export interface Feed {
  /** "merged", or the upstream's name for a per-upstream view. */
  name: string;
  /** Path of the feed base under the public root, without leading slash, ending with '/': "v3/" */
  path: string;
  sources: Source[];
}

/** Sources of this feed that may serve `id` (packageSourceMapping), in priority order. */
export function eligibleSources(s: Services, feed: Feed, id: string): Source[] {
  const names = new Set(s.mapping.eligible(id).map((n) => n.toLowerCase()));
  return feed.sources.filter((u) => names.has(u.name.toLowerCase()));
}
