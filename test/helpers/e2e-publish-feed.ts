/**
 * A V3 feed that accepts pushes and serves what was pushed, for end-to-end publish tests: the static feed
 * (service index, flat container, registration, search…) in front, and the fake publish upstream behind its
 * PackagePublish @id (`/api/v2/package`). Publish requests are relayed byte for byte to the fake, which checks
 * the API key, stores the package and answers like nuget.org (201, 409 duplicate, 200/404 delete, 401/403).
 * When the fake accepts a push, the package joins the static feed; when it accepts a delete, the version is
 * unlisted there (still in the flat index, `listed: false` in registration), like nuget.org.
 *
 * Both halves record what they received: `feed.requests` holds every request that reached the upstream's
 * origin (reads and publish), `publisher.requests` the publish requests with their raw bodies.
 *
 * With `symbols: true` the feed also advertises `SymbolPackagePublish/4.9.0` at `{origin}/api/v2/symbolpackage`
 * and relays that path byte for byte to a second fake publisher (`symbolPublisher`, same key rules). It is a
 * separate instance because the fake keeps one store per instance keyed by id/version: a .snupkg relayed to the
 * package publisher would collide with its own .nupkg and get a 409. Symbol pushes never change what the feed
 * serves.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakePublishUpstream, type FakePublishOptions, type FakePublishUpstream } from './fake-publish-upstream.ts';
import { loadPackageFromNupkg, type LocalPackage } from './packages.ts';
import { startStaticFeed, type ServiceIndexResource, type StaticFeed } from './static-feed.ts';

export interface PublishableFeedOptions extends FakePublishOptions {
  /** Packages the feed serves from the start. Default none. */
  packages?: readonly LocalPackage[];
  /** Loose .nupkg files the feed serves from the start. */
  extraPackages?: Array<{ path: string; listed?: boolean }>;
  /** Advertise SymbolPackagePublish/4.9.0 on the feed's origin and relay it to `symbolPublisher`. Default false. */
  symbols?: boolean;
}

export interface PublishableFeed {
  feed: StaticFeed;
  publisher: FakePublishUpstream;
  /** The symbol package endpoint behind `{origin}/api/v2/symbolpackage`; only with `symbols: true`. */
  symbolPublisher: FakePublishUpstream | undefined;
  close(): Promise<void>;
}

const PUBLISH_PREFIX = '/api/v2/package';
const SYMBOL_PREFIX = '/api/v2/symbolpackage';

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startPublishableFeed(opts: PublishableFeedOptions = {}): Promise<PublishableFeed> {
  const publisher = await startFakePublishUpstream(opts);
  const symbolPublisher = opts.symbols === true ? await startFakePublishUpstream(opts) : undefined;
  const spool = await mkdtemp(join(tmpdir(), 'nugate-e2e-pushed-'));
  let feed: StaticFeed | undefined;

  /** Mirrors the fake's store into the static feed after it changed. */
  const sync = async (before: Set<string>, method: string): Promise<void> => {
    if (feed === undefined) return;
    if (method === 'PUT') {
      for (const [key, entry] of publisher.packages) {
        if (before.has(key)) continue;
        const path = join(spool, `${key.replace(/[^a-z0-9.-]/g, '_')}.nupkg`);
        await writeFile(path, entry.bytes);
        feed.addPackage(await loadPackageFromNupkg(path), { listed: entry.listed });
      }
      return;
    }
    // DELETE (unlist) / POST (relist) of {id}/{version}: re-read the listed flag of every stored package.
    for (const [key, entry] of publisher.packages) {
      const [lowerId, lowerVersion] = key.split('/');
      const served = feed.packages.find((p) => p.lowerId === lowerId && p.lowerVersion === lowerVersion?.toLowerCase());
      if (served !== undefined && served.listed !== entry.listed) feed.addPackage(served, { listed: entry.listed });
    }
  };

  const relay = async (req: IncomingMessage, res: ServerResponse, to: FakePublishUpstream): Promise<void> => {
    const body = await readAll(req);
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name === 'host' || name === 'connection' || name === 'transfer-encoding' || name === 'content-length') continue;
      if (value !== undefined) headers[name] = value;
    }
    headers['content-length'] = String(body.length);
    const before = new Set(publisher.packages.keys());
    const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      const out = httpRequest(`${to.origin}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers }, resolve);
      out.once('error', reject);
      out.end(body);
    });
    const answer = await readAll(upstream);
    const status = upstream.statusCode ?? 502;
    if (to === publisher && status >= 200 && status < 300) await sync(before, req.method ?? '');
    const back: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (name === 'connection' || name === 'transfer-encoding' || name === 'content-length' || name === 'keep-alive') continue;
      if (value !== undefined) back[name] = value;
    }
    back['content-length'] = String(answer.length);
    res.writeHead(status, upstream.statusMessage ?? '', back);
    res.end(answer);
  };

  // The static feed reads this array on every service index request; the entry is added once the origin is known.
  const extraResources: ServiceIndexResource[] = [];
  feed = await startStaticFeed({
    packages: opts.packages ?? [],
    ...(opts.extraPackages !== undefined ? { extraPackages: opts.extraPackages } : {}),
    extraResources,
    onRequest: async (req, res) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (under(path, PUBLISH_PREFIX)) await relay(req, res, publisher);
      else if (symbolPublisher !== undefined && under(path, SYMBOL_PREFIX)) await relay(req, res, symbolPublisher);
      else return false;
      return true;
    },
  });
  const served = feed;
  if (symbolPublisher !== undefined) {
    extraResources.push({ '@id': `${served.url}${SYMBOL_PREFIX}`, '@type': 'SymbolPackagePublish/4.9.0', comment: 'Symbol package (.snupkg) push endpoint' });
  }

  let closed: Promise<void> | undefined;
  return {
    feed: served,
    publisher,
    symbolPublisher,
    close() {
      closed ??= (async () => {
        await Promise.all([served.close(), publisher.close(), symbolPublisher?.close()]);
        await rm(spool, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
