/**
 * The hit path at the physical limit (issue 9): a GET or HEAD whose rendered answer is held is written straight to
 * the socket from the node request, with one lookup from the request's target to a ready response, before Hono
 * builds a Request, runs middleware or routes. Everything a hit needs stays intact: the same key as the slow path
 * (render-cache.ts), read auth, ETag/304, the access record (metrics). Anything else — a miss, a Range, a target that
 * needs normalising, a proxy-derived root, an unauthenticated request under `auth.read` — takes the normal path,
 * which gives the same answer, only slower.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Config } from '../config/schema.ts';
import { isPlainTarget, renderKeyOf, type RenderCache } from './render-cache.ts';
import { etagMatches, renderedHeaders } from './respond.ts';

export interface FastHitDeps {
  config: Config;
  render: RenderCache;
  /** Package files held in memory (flat container answers), looked up after rendered JSON. */
  packageHits?: RenderCache;
  now: () => number;
  /** Under auth.read: true when the request carries credentials nugate accepts (http/read-auth.ts). */
  authorized?: (req: IncomingMessage) => boolean;
  /** The id of this request, echoed as X-Request-Id and logged (ops/access-log.ts). */
  requestId?: (req: IncomingMessage) => string;
  /** Counts the answered request like every other one (ops/access-log.ts); `kind` says which memo answered. */
  record: (req: IncomingMessage, status: number, cache: string, started: number, id: string, kind: 'document' | 'package') => void;
}

/** Returns a request listener prefix: true when it answered the request, false to pass it on. */
export function createFastHit(deps: FastHitDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { config, render } = deps;
  const fixedRoot = config.publicUrl === undefined ? undefined : config.publicUrl.endsWith('/') ? config.publicUrl : `${config.publicUrl}/`;
  return function fastHit(req, res) {
    const started = performance.now();
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const target = req.url;
    if (target === undefined || !isPlainTarget(target) || req.headers.range !== undefined) return false;
    let root = fixedRoot;
    if (root === undefined) {
      // Forwarded headers decide the root behind a trusted proxy: the slow path reads them.
      if (config.trustProxy) return false;
      const host = req.headers.host;
      if (host === undefined) return false;
      // Keys only exist for roots the slow path validated, so an odd Host simply misses here.
      root = `${(req.socket as TLSSocket).encrypted === true ? 'https' : 'http'}://${host.toLowerCase()}/`;
    }
    const key = renderKeyOf(root, target);
    const document = render.get(key);
    const hit = document ?? deps.packageHits?.get(key);
    if (hit === undefined) return false;
    const kind = document === undefined ? 'package' : 'document';
    if (deps.authorized !== undefined && !deps.authorized(req)) return false;
    const headers = renderedHeaders(hit, 'HIT', deps.now());
    const id = deps.requestId?.(req) ?? '';
    if (id !== '') headers['x-request-id'] = id;
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, hit.etag)) {
      res.writeHead(304, headers);
      res.end();
      deps.record(req, 304, 'HIT', started, id, kind);
      return true;
    }
    headers['content-length'] = String(hit.body.length);
    res.writeHead(200, headers);
    res.end(method === 'HEAD' ? undefined : hit.body);
    deps.record(req, 200, 'HIT', started, id, kind);
    return true;
  };
}
