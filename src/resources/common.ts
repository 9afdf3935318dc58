/**
 * Pieces every resource handler shares: the feed's public base, id/version parameters, asking several sources at
 * once, the status model (design.md §4) and the one read path of every JSON resource (`rendered`).
 */
import type { Context } from 'hono';
import type { CacheState } from '../cache/types.ts';
import type { Services, Feed } from '../services.ts';
import type { Answer, AnswerMeta, Source } from '../sources/source.ts';
import { publicRoot } from '../http/public-base.ts';
import { isValidId, normalizeId } from '../nuget/id.ts';
import { lowerNormalized } from '../nuget/version.ts';
import { NugateError, UpstreamError, badRequest } from '../errors.ts';
import { renderJson, sendRendered, type Env } from '../http/respond.ts';
import { isPlainTarget, renderKeyOf } from '../http/render-cache.ts';
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

/** The public root of this request ("https://host/", ending with '/'): every URL nugate writes starts with it. */
export function requestRoot(c: Context<Env>, s: Services): string {
  const opts = { publicUrl: s.config.publicUrl, trustProxy: s.config.trustProxy };
  if (opts.publicUrl || opts.trustProxy) return publicRoot(c, opts);
  const host = c.req.header('host');
  const key = host === undefined ? `${schemeAndAuthority(c.req.url)}\u0000` : `${schemeAndAuthority(c.req.url)}\u0000=${host}`;
  let root = roots.get(key);
  if (root === undefined) {
    root = publicRoot(c, opts);
    if (roots.size >= ROOTS_MAX) roots.clear();
    roots.set(key, root);
  }
  return root;
}

export function feedBase(c: Context<Env>, s: Services, feed: Feed): string {
  return requestRoot(c, s) + feed.path;
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

export type Outcome<T> =
  | { source: Source; kind: 'ok'; value: T; meta: AnswerMeta }
  | { source: Source; kind: 'notFound'; meta?: AnswerMeta }
  | { source: Source; kind: 'failed'; error: Error };

/** Asks every source in parallel; never throws. A 404-class NugateError is "not found" (offline, nothing held). */
export async function fanOut<T>(sources: Source[], ask: (s: Source) => Promise<Answer<T>>): Promise<Array<Outcome<T>>> {
  return Promise.all(
    sources.map(async (source): Promise<Outcome<T>> => {
      try {
        const a = await ask(source);
        return a.found ? { source, kind: 'ok', value: a.value, meta: a.meta } : { source, kind: 'notFound', meta: a.meta };
      } catch (err) {
        if (err instanceof NugateError && err.status === 404) return { source, kind: 'notFound' };
        return { source, kind: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
      }
    }),
  );
}

export interface Combined {
  state: CacheState;
  ageSeconds: number;
  /** Why part of the answer is stale or missing (upstreams named by name only). */
  staleReasons: string[];
  /** How long the rendered answer may be reused: the freshness left in its least fresh part. */
  freshMs: number;
}

/** One X-Cache value for a response built from several answers: the least "cached" wins. */
export function combine(outcomes: Array<Outcome<unknown>>): Combined {
  let state: CacheState = 'HIT';
  const staleReasons: string[] = [];
  let age = 0;
  let fresh = Number.POSITIVE_INFINITY;
  for (const o of outcomes) {
    if (o.kind === 'failed') {
      staleReasons.push(o.error instanceof UpstreamError ? o.error.message : `${o.source.name}: unavailable`);
      fresh = 0;
      continue;
    }
    const m = o.meta;
    if (m === undefined) continue;
    if (m.staleReason !== undefined) staleReasons.push(m.staleReason);
    age = Math.max(age, m.ageMs / 1000);
    fresh = Math.min(fresh, m.freshMs);
    if (m.state === 'MISS') state = 'MISS';
    else if (m.state === 'STALE' && state !== 'MISS') state = 'STALE';
    else if (m.state === 'REVALIDATED' && state === 'HIT') state = 'REVALIDATED';
  }
  return { state, ageSeconds: state === 'MISS' ? 0 : age, staleReasons, freshMs: fresh };
}

/**
 * The answer when nothing usable came back. Every eligible source said 404 (or there is none) → 404. Otherwise,
 * nothing held and no upstream could answer → the configured "unavailable" status (503 with a short Retry-After by
 * default: the only signal that makes the client say "source unreachable", design.md §4), for every kind of
 * resource. An upstream that rate-limits nugate is reported as such: 429 with its Retry-After.
 */
export function nothingUsable(s: Services, outcomes: Array<Outcome<unknown>>, what: string): NugateError {
  const failed = outcomes.filter((o): o is Extract<Outcome<unknown>, { kind: 'failed' }> => o.kind === 'failed');
  if (failed.length === 0 || outcomes.some((o) => o.kind === 'notFound')) return new NugateError('NOT_FOUND', 404, `${what} not found`);
  const limited = failed.find((f) => f.error instanceof UpstreamError && f.error.status === 429);
  if (limited !== undefined && limited.error instanceof NugateError) {
    return new NugateError('UPSTREAM_RATE_LIMITED', 429, `${what} is not available: ${limited.error.message}`, { headers: limited.error.headers });
  }
  // Every upstream refused the request itself (401/403/400…): a gateway error, not a passing outage to retry.
  if (failed.every((f) => f.error instanceof UpstreamError && f.error.reason === 'refused')) {
    const refused = failed[0]?.error;
    return new NugateError('UPSTREAM_REFUSED', 502, `${what} is not available: ${refused instanceof Error ? refused.message : 'refused'}`);
  }
  const { status, retryAfter } = s.config.unavailable;
  const headers: Record<string, string> = {};
  if (status !== 404) headers['retry-after'] = String(retryAfter);
  const first = failed[0]?.error;
  const reason = first instanceof UpstreamError ? first.message : 'unavailable';
  return new NugateError(status === 404 ? 'NOT_FOUND' : 'UPSTREAM_UNAVAILABLE', status, `${what} is not available: ${reason}`, { headers });
}

/** The longest a rendered response is reused, whatever its answers say. */
const MAX_RENDER_TTL = 365 * 86_400_000;

export function cacheControl(kind: ResponseKind): string {
  if (kind === 'search') return 'public, max-age=30';
  if (kind === 'serviceIndex') return 'public, max-age=300';
  return 'public, max-age=60';
}

/**
 * A request target (path and non-empty query) that WHATWG URL serializes unchanged: only unreserved characters,
 * sub-delims, ':', '@', '/' and '%', no dot segment (literal or percent-encoded), no fragment. Anything else
 * (quotes, spaces, "/./", "%2e", an empty "?") goes through `new URL` as before.
 */

/**
 * The rendered-response key of a request: its public root and its target. The fast hit path (http/fast-hit.ts)
 * builds the same key from the raw request without routing, so the two must stay in step.
 */
export function renderKey(c: Context<Env>, root: string): string {
  const full = c.req.url;
  const target = full.slice(schemeAndAuthority(full).length);
  if (isPlainTarget(target)) return renderKeyOf(root, target);
  const url = new URL(full);
  return renderKeyOf(root, `${url.pathname}${url.search}`);
}

export type ResponseKind = 'metadata' | 'search' | 'serviceIndex';

/** What a resource computes on a render miss: canonical JSON text plus what decides its freshness. */
export interface Built {
  /** JSON text, written against FEED_SENTINEL (or already absolute). */
  json: string;
  kind: ResponseKind;
  /** The answers it was built from: they decide X-Cache, Age, warnings and how long the render is reused. */
  outcomes: Array<Outcome<unknown>>;
  /** Lowercase ids it describes ('*' for search-like answers), so a publish can evict it. */
  ids: string[];
  /** Overrides the reuse time derived from `outcomes`. */
  ttlMs?: number;
}

/**
 * The read path shared by every JSON resource: a rendered response for this public URL is sent as is (the
 * whole hit path); otherwise `build` runs, its canonical JSON is materialized for the feed's public base, and the
 * result is kept for as long as the answers it came from stay fresh. A stale answer is quiet unless
 * cache.staleWarning asks for X-NuGet-Warning (the client prints one line per warned response, and -warnaserror
 * restores would fail although nothing is missing).
 */
export async function rendered(c: Context<Env>, s: Services, feed: Feed, build: (base: string) => Promise<Built>): Promise<Response> {
  const root = requestRoot(c, s);
  const base = root + feed.path;
  const key = renderKey(c, root);
  const now = s.clock.now();
  const hit = s.render.get(key);
  if (hit) {
    s.cacheObserver?.result('document', 'rendered', 'hit');
    return sendRendered(c, hit, now, 'HIT');
  }
  const b = await build(base);
  const combined = combine(b.outcomes);
  if (combined.staleReasons.length > 0) s.log.info({ path: c.req.path, reasons: combined.staleReasons }, 'served without a fresh upstream answer');
  const warn = combined.staleReasons.length > 0 && s.warnStale(c.req.header('x-nuget-session-id'));
  const out = renderJson(materialize(b.json, base), {
    state: combined.state,
    bornAt: now - combined.ageSeconds * 1000,
    cacheControl: cacheControl(b.kind),
    ...(warn ? { warning: `nugate: ${combined.staleReasons.join('; ')}; serving what it holds` } : {}),
  });
  const ttl = warn ? 0 : Math.min(b.ttlMs ?? combined.freshMs, MAX_RENDER_TTL);
  s.render.set(key, out, ttl, b.ids);
  return sendRendered(c, out, now);
}
