/**
 * GET {feed}explain/{id}/{version}: why a build got what it got. Says which upstreams were eligible and by which
 * packageSourceMapping pattern, which upstream serves the version, and whether the package is already held.
 * Operators need it when a restore picks a surprising version (anchors.md §5 item 12). Upstreams are named by their
 * configured names only.
 */
import { Hono } from 'hono';
import type { Services, Feed } from '../services.ts';
import { eligibleSources } from '../services.ts';
import type { Env } from '../http/respond.ts';
import { UpstreamError } from '../errors.ts';
import { idParam, versionParam } from './common.ts';
import { mergedVersions } from './resolve.ts';

export function explainRoutes(s: Services, feed: Feed): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/:id/:version', async (c) => {
    const id = idParam(c.req.param('id'));
    const version = versionParam(c.req.param('version'));
    const { pattern, upstreams: mappedTo } = s.mapping.explain(id);
    const eligible = eligibleSources(s, feed, id);
    const { outcomes, versions, provenance } = await mergedVersions(s, feed, id);
    const held = await Promise.all(eligible.map(async (u) => ({ upstream: u.name, stored: await u.holds(id, version, 'nupkg') })));
    return c.json(
      {
        id,
        version,
        mapping: s.mapping.mapped ? { pattern: pattern ?? null, upstreams: mappedTo } : null,
        eligible: eligible.map((u) => u.name),
        servedBy: provenance[version] ?? held.find((x) => x.stored)?.upstream ?? null,
        listedVersions: versions.length,
        upstreams: outcomes.map((o) => ({
          name: o.source.name,
          status: o.kind,
          lists: o.kind === 'ok' ? o.value.includes(version) : false,
          cache: o.kind === 'failed' ? (o.error instanceof UpstreamError ? o.error.message : 'failed') : (o.meta?.state ?? null),
          stored: held.find((x) => x.upstream === o.source.name)?.stored ?? false,
        })),
        notEligible: feed.sources.filter((u) => !eligible.includes(u)).map((u) => u.name),
      },
      200,
      { 'cache-control': 'no-store' },
    );
  });
  return app;
}
