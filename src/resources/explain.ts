/**
 * GET {feed}explain/{id}/{version}: why a build got what it got. Says which upstreams were eligible and by which
 * packageSourceMapping pattern, which upstream serves the version, and whether the package is already stored.
 * Operators need it when a restore picks a surprising version (anchors.md §5 item 12).
 */
import { Hono } from 'hono';
import type { Services, Feed } from '../services.ts';
import { eligibleUpstreams } from '../services.ts';
import type { Env } from '../http/respond.ts';
import { idParam, versionParam } from './common.ts';
import { mergedVersions } from './flat-container.ts';

export function explainRoutes(s: Services, feed: Feed): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/:id/:version', async (c) => {
    const id = idParam(c.req.param('id'));
    const version = versionParam(c.req.param('version'));
    const { pattern, upstreams: mappedTo } = s.mapping.explain(id);
    const eligible = eligibleUpstreams(s, feed, id);
    const { outcomes, versions, provenance } = await mergedVersions(s, feed, id);
    const stored = await Promise.all(eligible.map(async (u) => ({ upstream: u.name, stored: await s.blobs.has({ upstream: u.name, id, version, file: 'nupkg' }) })));
    return c.json(
      {
        id,
        version,
        mapping: s.mapping.mapped ? { pattern: pattern ?? null, upstreams: mappedTo } : null,
        eligible: eligible.map((u) => u.name),
        servedBy: provenance[version] ?? stored.find((x) => x.stored)?.upstream ?? null,
        listedVersions: versions.length,
        upstreams: outcomes.map((o) => ({
          name: o.upstream.name,
          status: o.kind,
          lists: o.kind === 'ok' ? (JSON.parse(o.res.doc.body) as { versions: string[] }).versions.some((v) => v.toLowerCase() === version) : false,
          cache: o.kind === 'failed' ? (o.error.message) : (o.res?.state ?? null),
          stored: stored.find((x) => x.upstream === o.upstream.name)?.stored ?? false,
        })),
        notEligible: feed.upstreams.filter((u) => !eligible.includes(u)).map((u) => u.name),
      },
      200,
      { 'cache-control': 'no-store' },
    );
  });
  return app;
}
