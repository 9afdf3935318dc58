/**
 * PackageBaseAddress/3.0.0 (protocol.md §1.3): the versions index and the package files.
 * Versions are the union over the eligible sources; a file comes from the source that lists the version (highest
 * priority first), so a download never leaks past the source mapping.
 */
import { Hono, type Context } from 'hono';
import type { Services, Feed } from '../services.ts';
import type { BlobFile, BlobResult } from '../cache/types.ts';
import { mergedVersions, resolveSource } from './resolve.ts';
import { asBytes, PACKAGE_CACHE_CONTROL, sendBlob, type Env, type Rendered } from '../http/respond.ts';
import { idParam, versionParam, nothingUsable, rendered, renderKey, requestRoot } from './common.ts';
import { notFound, UpstreamError } from '../errors.ts';
import { contentTypeOf } from '../nuget/package-files.ts';


/** Package files in memory never go stale: the fast path may serve them until memory or a publish removes them. */
const PACKAGE_HIT_TTL = 24 * 3600_000;

export function flatContainerRoutes(s: Services, feed: Feed): Hono<Env> {
  /** A file served from memory becomes a fast-path hit for this exact URL (http/fast-hit.ts). */
  const rememberHit = (c: Context<Env>, blob: BlobResult, id: string, contentType: string): void => {
    if (blob.body.kind !== 'buffer' || blob.etag === undefined || c.req.header('range') !== undefined) return;
    const hit: Rendered = { body: asBytes(blob.body.data), etag: blob.etag, contentType, cacheControl: PACKAGE_CACHE_CONTROL, state: 'HIT' };
    s.packageHits.set(renderKey(c, requestRoot(c, s)), hit, PACKAGE_HIT_TTL, [id]);
  };

  const app = new Hono<Env>();

  // Routes use parameters only (no static segment after a parameter), so Hono keeps its fast RegExpRouter for
  // the whole app; the fixed names are checked here instead.
  app.get('/:id/:name', async (c) => {
    if (c.req.param('name') !== 'index.json') throw notFound();
    const id = idParam(c.req.param('id'));
    s.warm?.claimVersions(id);
    return rendered(c, s, feed, async () => {
      const { outcomes, versions } = await mergedVersions(s, feed, id);
      if (versions.length === 0) throw nothingUsable(s, outcomes, `package ${id}`);
      return { json: JSON.stringify({ versions }), kind: 'metadata', outcomes, ids: [id] };
    });
  });

  /** `id` and `version` as idParam/versionParam gave them for this request's path (parsed once, in the route). */
  const serveFile = async (c: Context<Env>, file: BlobFile, id: string, version: string): Promise<Response> => {
    const src = await resolveSource(s, feed, id, version, file);
    if (!src) throw notFound(`package ${id} ${version} not found`);
    let blob;
    try {
      blob = await src.file(id, version, file);
    } catch (err) {
      // Not held and the upstream could not answer: the same 503 (or 429) as every other resource.
      if (err instanceof UpstreamError) throw nothingUsable(s, [{ source: src, kind: 'failed', error: err }], `${file} of ${id} ${version}`);
      throw err;
    }
    if (!blob) throw notFound(`${file} of ${id} ${version} not found`);
    rememberHit(c, blob, id, contentTypeOf(file, blob.contentType));
    if (file === 'nupkg') {
      // A package nugate did not hold before changes what it can say about the id (completed registration leaves,
      // search over held packages): rendered answers about it are rebuilt.
      if (blob.state === 'MISS') s.render.evictIds([id]);
      s.warm?.claimPackage(id, version);
      // The client reads this package's dependencies next: have them ready (src/warm/warmer.ts). Once the answer is
      // sent, a downloaded package is held (its last byte waits for verification), so its nuspec costs no request.
      const warm = s.warm;
      if (warm !== undefined && c.req.method === 'GET') {
        // A download in flight shows its nuspec in its first bytes: the next level is warmed while the rest arrives.
        warm.whileDownloading(feed, id, version, blob.nuspec);
        c.env.outgoing.once('finish', () => warm.afterPackage(feed, id, version));
      }
    }
    return sendBlob(c, blob, contentTypeOf(file, blob.contentType), s.log);
  };

  app.get('/:id/:version/:file', async (c) => {
    const id = idParam(c.req.param('id'));
    const version = versionParam(c.req.param('version'));
    const name = c.req.param('file').toLowerCase();
    // The client builds the file name from the same id and version; accept any case (protocol.md §1.3 quirk).
    const rawVersion = c.req.param('version').toLowerCase();
    if (name === `${id}.${version}.nupkg` || name === `${id}.${rawVersion}.nupkg`) return serveFile(c, 'nupkg', id, version);
    if (name === `${id}.nuspec`) return serveFile(c, 'nuspec', id, version);
    if (name === 'icon') return serveFile(c, 'icon', id, version);
    if (name === 'readme') return serveFile(c, 'readme', id, version);
    throw notFound('no such file in the flat container');
  });

  return app;
}
