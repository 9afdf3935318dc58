/**
 * PackageBaseAddress/3.0.0 (protocol.md §1.3): the versions index and the package files.
 * Versions are the union over the eligible upstreams; a file is fetched from the upstream that lists the version
 * (highest priority first), so a download never leaks past the source mapping.
 */
import { Hono, type Context } from 'hono';
import type { Services, Feed } from '../services.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { BlobFile, BlobResult, DocResult, UpstreamBody } from '../cache/types.ts';
import { eligibleUpstreams } from '../services.ts';
import { mergeVersionLists } from '../merge/versions.ts';
import { decodedStream, discard } from '../upstream/http.ts';
import { sendBlob, type Env } from '../http/respond.ts';
import { idParam, versionParam, fanOut, nothingUsable, type Outcome, rendered } from './common.ts';
import { notFound } from '../errors.ts';

const CONTENT_TYPES: Record<BlobFile, string> = {
  nupkg: 'application/octet-stream',
  nuspec: 'application/xml',
  icon: 'application/octet-stream',
  readme: 'text/markdown; charset=utf-8',
};

/** The versions document of one upstream (raw: it holds no URLs). */
function versionsDoc(s: Services, u: Upstream, id: string): Promise<DocResult> {
  return s.docs.get(`flat:${u.name}:${id}`, 'metadata', u.name, async (stale) => {
    const { resources } = await u.discover();
    if (!resources.packageBaseAddress) return { kind: 'notFound' };
    return u.loadJson(`${resources.packageBaseAddress}${id}/index.json`, stale, (json) => {
      const versions = (json as { versions?: unknown }).versions;
      // The client validates this shape (HttpStreamValidation); an upstream that sends something else is broken.
      if (!Array.isArray(versions)) throw new Error('flat container index without a "versions" array');
      return { versions: versions.filter((v): v is string => typeof v === 'string') };
    });
  });
}

function versionsOf(o: Outcome): string[] {
  if (o.kind !== 'ok') return [];
  return (JSON.parse(o.res.doc.body) as { versions: string[] }).versions;
}

export async function mergedVersions(s: Services, feed: Feed, id: string): Promise<{ outcomes: Outcome[]; versions: string[]; provenance: Record<string, string> }> {
  const upstreams = eligibleUpstreams(s, feed, id);
  const outcomes = await fanOut(upstreams, (u) => versionsDoc(s, u, id));
  const merged = mergeVersionLists(outcomes.map((o) => ({ upstream: o.upstream.name, versions: versionsOf(o) })));
  return { outcomes, ...merged };
}

/** Which upstream serves this version: a stored copy first, else the highest-priority upstream that lists it. */
async function resolveSource(s: Services, feed: Feed, id: string, version: string, file: BlobFile): Promise<Upstream | undefined> {
  const upstreams = eligibleUpstreams(s, feed, id);
  if (upstreams.length === 0) return undefined;
  for (const u of upstreams) {
    if (await s.blobs.has({ upstream: u.name, id, version, file })) return u;
  }
  // One candidate: no need to ask for its versions list first.
  if (upstreams.length === 1) return upstreams[0];
  const { outcomes, provenance } = await mergedVersions(s, feed, id);
  const name = provenance[version];
  if (name !== undefined) return upstreams.find((u) => u.name === name);
  const failed = outcomes.find((o) => o.kind === 'failed');
  if (failed) throw nothingUsable(s, outcomes, `${id} ${version}`);
  return undefined;
}

function fileName(id: string, version: string, file: BlobFile): string {
  if (file === 'nupkg') return `${id}.${version}.nupkg`;
  if (file === 'nuspec') return `${id}.nuspec`;
  return file;
}

async function fetchBlob(s: Services, u: Upstream, id: string, version: string, file: BlobFile): Promise<BlobResult | undefined> {
  return s.blobs.get({ upstream: u.name, id, version, file }, async (): Promise<UpstreamBody | 'notFound'> => {
    const { resources } = await u.discover();
    if (!resources.packageBaseAddress) return 'notFound';
    const res = await u.request(`${resources.packageBaseAddress}${id}/${version}/${fileName(id, version, file)}`, { headers: { 'accept-encoding': 'identity' } });
    if (res.status === 404 || res.status === 410) {
      discard(res);
      return 'notFound';
    }
    if (res.status !== 200) {
      discard(res);
      throw new Error(`${u.name} answered ${res.status} for ${id} ${version} ${file}`);
    }
    const encoded = res.headers['content-encoding'] !== undefined && res.headers['content-encoding'] !== 'identity';
    const body: UpstreamBody = { stream: decodedStream(res.body, res.headers['content-encoding']) };
    if (!encoded && res.headers['content-length'] !== undefined) body.length = Number(res.headers['content-length']);
    if (res.headers['content-type']) body.contentType = res.headers['content-type'];
    return body;
  });
}

export function flatContainerRoutes(s: Services, feed: Feed): Hono<Env> {
  const app = new Hono<Env>();

  // Routes use parameters only (no static segment after a parameter), so Hono keeps its fast RegExpRouter for
  // the whole app; the fixed names are checked here instead.
  app.get('/:id/:name', async (c) => {
    if (c.req.param('name') !== 'index.json') throw notFound();
    const id = idParam(c.req.param('id'));
    return rendered(c, s, feed, async () => {
      const { outcomes, versions } = await mergedVersions(s, feed, id);
      if (versions.length === 0) throw nothingUsable(s, outcomes, `package ${id}`);
      return { json: JSON.stringify({ versions }), kind: 'metadata', outcomes, ids: [id] };
    });
  });

  /** `id` and `version` as idParam/versionParam gave them for this request's path (parsed once, in the route). */
  const serveFile = async (c: Context<Env>, file: BlobFile, id: string, version: string): Promise<Response> => {
    const u = await resolveSource(s, feed, id, version, file);
    if (!u) throw notFound(`package ${id} ${version} not found`);
    const blob = await fetchBlob(s, u, id, version, file);
    if (!blob) throw notFound(`${file} of ${id} ${version} not found`);
    return sendBlob(c, blob, file === 'nupkg' || file === 'nuspec' ? CONTENT_TYPES[file] : (blob.contentType || CONTENT_TYPES[file]));
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
