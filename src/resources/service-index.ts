/**
 * nugate's own service index (design.md §2): generated from what nugate implements, every resource under every
 * alias the client looks for. Upstream resources nugate does not serve are dropped; browser templates are copied.
 * It is the same online and offline: the client caches it, and an index without PackagePublish taken while offline
 * would break `dotnet nuget push` after going back online. Offline, a push is refused with a 503 that says why.
 */
import { Hono } from 'hono';
import type { Services, Feed } from '../services.ts';
import type { ServiceIndexEntry } from '../nuget/service-index.ts';
import { buildServiceIndex, feedUrls } from '../nuget/service-index.ts';
import { type Env } from '../http/respond.ts';
import { rendered } from './common.ts';

export interface FeedCapabilities {
  vulnerability: boolean;
  publish: boolean;
  symbols: boolean;
  browserTemplates: ServiceIndexEntry[];
}

/** What the feed's sources offer. A source whose service index cannot be had (never fetched, down) adds nothing. */
export async function capabilities(s: Services, feed: Feed): Promise<FeedCapabilities> {
  const found = await Promise.all(feed.sources.map(async (src) => ({ source: src, caps: await src.capabilities() })));
  const publishTarget = s.config.publish.upstream;
  const publishers = found.filter(({ source }) => publishTarget === undefined || source.name.toLowerCase() === publishTarget.toLowerCase()).map((f) => f.caps);
  // Publish routes are mounted for the merged feed only (app.ts mountFeed); a per-upstream view must not
  // advertise a publish URL that answers 404.
  const mounted = feed.path === 'v3/';
  const publish = mounted && s.config.publish.enabled && publishers.some((c) => c.publish);
  return {
    vulnerability: found.some((f) => f.caps.vulnerability),
    publish,
    symbols: publish && s.config.publish.symbols && publishers.some((c) => c.symbols),
    browserTemplates: found[0]?.caps.browserTemplates ?? [],
  };
}

export function serviceIndexRoutes(s: Services, feed: Feed): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', async (c) => {
    return rendered(c, s, feed, async (base) => ({
      json: JSON.stringify(buildServiceIndex(feedUrls(base), await capabilities(s, feed))),
      kind: 'serviceIndex',
      outcomes: [],
      ids: [],
      // Regenerated every minute so that an upstream coming back adds its resources again.
      ttlMs: 60_000,
    }));
  });
  return app;
}
