/**
 * Pieces every resource handler shares: the feed's public base, id/version parameters, fanning one document
 * request out to several upstreams, and the status model of design.md §4.
 */
import type { Context } from 'hono';
import type { CacheState, DocKind, DocResult } from '../cache/types.ts';
import type { Services, Feed } from '../services.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { publicRoot } from '../http/public-base.ts';
import { isValidId, normalizeId } from '../nuget/id.ts';
import { lowerNormalized } from '../nuget/version.ts';
import { NugateError, UpstreamError, badRequest } from '../errors.ts';
import { renderJson, sendRendered, type Env } from '../http/respond.ts';
import { materialize } from '../feed-urls.ts';

/** The request URL up to the end of its authority ("http://host:port"), or the whole URL when it has no path. */
function schemeAndAuthority(url: string): string {
  const end = url.indexOf('/', url.indexOf('//') + 2);
  return end < 0 ? url : url.slice(0, end);
}

/**
 * publicRoot() parses the request URL on every call. Without publicUrl and trustProxy its answer depends only on
 * the URL's scheme and authority and on the Host header, so it is remembered per pair: a hit costs a Map lookup.
 * Bounded (a flood of distinct Host headers only clears it); a request publicRoot rejects is never remembered.
 */
const ROOTS_MAX = 256;
const roots = new Map<string, string>();

export function feedBase(c: Context<Env>, s: Services, feed: Feed): string {
  const opts = { publicUrl: s.config.publicUrl, trustProxy: s.config.trustProxy };
  if (opts.publicUrl || opts.trustProxy) return publicRoot(c, opts) + feed.path;
  const host = c.req.header('host');
  const key = host === undefined ? `${schemeAndAuthority(c.req.url)}\u0000` : `${schemeAndAuthority(c.req.url)}\u0000=${host}`;
  let root = roots.get(key);
  if (root === undefined) {
    root = publicRoot(c, opts);
    if (roots.size >= ROOTS_MAX) roots.clear();
    roots.set(key, root);
  }
  return root + feed.path;
}

// Route parameters arrive already percent-decoded (Hono decodes them once): decoding again would turn "%25"
// into a 500, so the helpers below take them as they are.

/** The lowercase id of a path segment, or a 400 that says what is wrong. */
export function idParam(raw: string | undefined): string {
  const id = raw ?? '';
  if (!isValidId(id)) throw badRequest(`invalid package id "${id.slice(0, 120)}"`);
  return normalizeId(id);
}

/** The normalized lowercase version of a path segment, or a 400. */
export function versionParam(raw: string | undefined): string {
  const text = raw ?? '';
  const v = lowerNormalized(text);
  if (v === undefined) throw badRequest(`invalid package version "${text.slice(0, 60)}"`);
  return v;
}

export type Outcome =
  | { upstream: Upstream; kind: 'ok'; res: DocResult }
  | { upstream: Upstream; kind: 'notFound'; res?: DocResult }
  | { upstream: Upstream; kind: 'failed'; error: Error };

/** Runs one document lookup per upstream in parallel; never throws. */
export async function fanOut(upstreams: Upstream[], lookup: (u: Upstream) => Promise<DocResult>): Promise<Outcome[]> {
  return Promise.all(
    upstreams.map(async (upstream): Promise<Outcome> => {
      try {
        const res = await lookup(upstream);
        return res.doc.status === 200 ? { upstream, kind: 'ok', res } : { upstream, kind: 'notFound', res };
      } catch (err) {
        if (err instanceof NugateError && err.status === 404) return { upstream, kind: 'notFound' };
        return { upstream, kind: 'failed', error: err as Error };
      }
    }),
  );
}

/** One X-Cache value for a response built from several documents: the least "cached" wins. */
export function combineStates(outcomes: Outcome[]): { state: CacheState; warning?: string; ageSeconds: number } {
  let state: CacheState = 'HIT';
  const warnings: string[] = [];
  let age = 0;
  for (const o of outcomes) {
    if (o.kind === 'failed') {
      warnings.push(`nugate: upstream "${o.upstream.name}" is unavailable (${o.error.message})`);
      continue;
    }
    const r = o.res;
    if (!r) continue;
    if (r.warning) warnings.push(r.warning);
    age = Math.max(age, r.ageMs / 1000);
    if (r.state === 'MISS') state = 'MISS';
    else if (r.state === 'STALE' && state !== 'MISS') state = 'STALE';
    else if (r.state === 'REVALIDATED' && state === 'HIT') state = 'REVALIDATED';
  }
  const out: { state: CacheState; warning?: string; ageSeconds: number } = { state, ageSeconds: state === 'MISS' ? 0 : age };
  if (warnings.length > 0) out.warning = warnings.join('; ');
  return out;
}

/**
 * The answer when nothing usable came back. Every eligible upstream said 404 (or there is none) → 404.
 * Otherwise, nothing cached and no upstream could answer → the configured "unavailable" status (503 with a short
 * Retry-After by default: the only signal that makes the client say "source unreachable", design.md §4).
 */
export function nothingUsable(s: Services, outcomes: Outcome[], what: string): NugateError {
  const failed = outcomes.filter((o): o is Extract<Outcome, { kind: 'failed' }> => o.kind === 'failed');
  if (failed.length === 0 || outcomes.some((o) => o.kind === 'notFound')) return new NugateError('NOT_FOUND', 404, `${what} not found`);
  const names = failed.map((f) => f.upstream.name).join(', ');
  const { status, retryAfter } = s.config.unavailable;
  const headers: Record<string, string> = { 'x-nuget-warning': `nugate: upstream ${names} unavailable and ${what} is not cached` };
  if (status !== 404) headers['retry-after'] = String(retryAfter);
  const first = failed[0]?.error;
  const reason = first instanceof UpstreamError ? first.message : (first?.message ?? 'unavailable');
  return new NugateError(status === 404 ? 'NOT_FOUND' : 'UPSTREAM_UNAVAILABLE', status, `${what} is not available: ${reason}`, { headers });
}

/** The longest a rendered response is reused, whatever its documents say. */
const MAX_RENDER_TTL = 365 * 86_400_000;

/**
 * How long a rendered response may be reused: the freshness left in its least fresh document, by the cache's
 * own policy (src/cache/policy.ts: per-kind TTLs, per-upstream overrides, the notFound TTL for 404s).
 */
export function renderTtl(s: Services, kind: DocKind, outcomes: Outcome[]): number {
  let left = s.policy.ttl(kind, '', 200);
  for (const o of outcomes) {
    if (o.kind === 'failed') return 0;
    if (!o.res) continue;
    if (o.res.state === 'STALE') return 0;
    left = Math.min(left, s.policy.ttl(kind, o.upstream.name, o.res.doc.status) - o.res.ageMs);
  }
  return Math.min(left, MAX_RENDER_TTL);
}

export function cacheControl(kind: DocKind): string {
  if (kind === 'search') return 'public, max-age=30';
  if (kind === 'immutable') return 'public, max-age=604800';
  return 'public, max-age=60';
}

/**
 * A request target (path and non-empty query) that WHATWG URL serializes unchanged: only unreserved characters,
 * sub-delims, ':', '@', '/' and '%', no dot segment (literal or percent-encoded), no fragment. Anything else
 * (quotes, spaces, "/./", "%2e", an empty "?") goes through `new URL` as before.
 */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/%?]+)?$/;
const DOT_SEGMENT = /\/(?:\.|%2e)/i;

export function renderKey(c: Context<Env>, base: string): string {
  const full = c.req.url;
  const target = full.slice(schemeAndAuthority(full).length);
  if (PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) return `${base}\u0000${target}`;
  const url = new URL(full);
  return `${base}\u0000${url.pathname}${url.search}`;
}

/** What a resource computes on a render miss: canonical JSON text plus what decides its freshness. */
export interface Built {
  /** JSON text, written against FEED_SENTINEL (or already absolute). */
  json: string;
  kind: DocKind;
  /** The documents it was built from: they decide X-Cache, Age, warnings and how long the render is reused. */
  outcomes: Outcome[];
  /** Lowercase ids it describes ('*' for search-like answers), so a publish can evict it. */
  ids: string[];
  /** Overrides the reuse time derived from `outcomes`. */
  ttlMs?: number;
  cacheControl?: string;
}

/**
 * The read path shared by every JSON resource: a rendered response for this public URL is sent as is (the
 * whole hit path); otherwise `build` runs, its canonical JSON is materialized for the feed's public base, and the
 * result is kept for as long as the documents it came from stay fresh.
 */
export async function rendered(c: Context<Env>, s: Services, feed: Feed, build: (base: string) => Promise<Built>): Promise<Response> {
  const base = feedBase(c, s, feed);
  const key = renderKey(c, base);
  const hit = s.render.get(key);
  if (hit) return sendRendered(c, hit, 'HIT');
  const b = await build(base);
  const out = renderJson(materialize(b.json, base), { ...combineStates(b.outcomes), cacheControl: b.cacheControl ?? cacheControl(b.kind) });
  s.render.set(key, out, b.ttlMs ?? renderTtl(s, b.kind, b.outcomes), b.ids);
  return sendRendered(c, out);
}
