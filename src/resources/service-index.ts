/**
 * nugate's own service index (design.md §2): generated from what nugate implements, every resource under every
 * alias the client looks for. Upstream resources nugate does not serve are dropped; browser templates are copied.
 */
import { Hono } from 'hono';
import type { Services, Feed } from '../services.ts';
import type { ServiceIndexEntry, UpstreamResources } from '../nuget/service-index.ts';
import { buildServiceIndex, feedUrls } from '../nuget/service-index.ts';
import { type Env } from '../http/respond.ts';
import { isFolderUrl } from '../upstream/folder-transport.ts';
import { rendered } from './common.ts';

export interface FeedCapabilities {
  vulnerability: boolean;
  publish: boolean;
  symbols: boolean;
  browserTemplates: ServiceIndexEntry[];
}

/** What the feed's upstreams offer. An upstream that cannot be reached right now simply adds nothing. */
export async function capabilities(s: Services, feed: Feed): Promise<FeedCapabilities> {
  const found = await Promise.all(feed.upstreams.map((u) => u.discover().then((d) => ({ upstream: u, resources: d.resources }), () => undefined)));
  const reachable = found.filter((f) => f !== undefined);
  const resources = reachable.map((f) => f.resources);
  const publishTarget = s.config.publish.upstream;
  const publishers = reachable
    .filter(({ upstream }) => publishTarget === undefined || upstream.name.toLowerCase() === publishTarget.toLowerCase())
    // Offline, nothing can be forwarded to a network upstream: do not advertise what would only fail. A folder
    // stores pushes itself (publish/local.ts), so it still can take them.
    .filter(({ upstream }) => !s.config.offline || isFolderUrl(upstream.config.url))
    .map((f) => f.resources);
  // Publish routes are mounted for the merged feed only (app.ts mountFeed); a per-upstream view must not
  // advertise a publish URL that answers 404.
  const mounted = feed.path === 'v3/';
  const publish = mounted && s.config.publish.enabled && (publishTarget !== undefined || feed.upstreams.length > 0) && publishers.some((r) => r.packagePublish !== undefined);
  return {
    vulnerability: resources.some((r) => r.vulnerabilityInfo !== undefined),
    publish,
    symbols: publish && s.config.publish.symbols && publishers.some((r) => r.symbolPackagePublish !== undefined),
    browserTemplates: (resources[0]?.browserTemplates ?? []).filter((t) => !onApiOrigin(t['@id'], resources)),
  };
}

/**
 * Browser templates are copied verbatim (they point at a gallery web site), except one that sits on an origin
 * nugate proxies as an API: copying it would hand clients an upstream host, and nugate does not serve web pages.
 */
function onApiOrigin(template: string, resources: UpstreamResources[]): boolean {
  let origin: string;
  try {
    origin = new URL(template.replace(/[{}]/g, '')).origin;
  } catch {
    return true;
  }
  return resources.some((r) =>
    [r.packageBaseAddress, r.registrationSemVer2, r.registrationSemVer1, ...r.search, ...r.autocomplete].some((u) => u !== undefined && new URL(u).origin === origin),
  );
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
      cacheControl: 'public, max-age=300',
    }));
  });
  return app;
}
