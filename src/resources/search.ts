/**
 * SearchQueryService and SearchAutocompleteService (protocol.md §1.5–1.6). Each request fans out to every
 * upstream of the feed in parallel, each with its own short timeout; results are filtered through the source
 * mapping, deduplicated and interleaved (src/merge/search.ts). A dead upstream costs at most its timeout, and
 * its last good answer fills in while it is down.
 */
import { Hono, type Context } from 'hono';
import type { Services, Feed } from '../services.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { DocResult } from '../cache/types.ts';
import { parseSearchParams, mergeSearch, mergeAutocompleteIds, mergeAutocompleteVersions, type SearchParams, type UpstreamSearch } from '../merge/search.ts';
import { localSearch, localAutocompleteIds } from '../merge/local-search.ts';
import { cachedPackages } from './local-index.ts';
import { type Env } from '../http/respond.ts';
import { idParam, fanOut, nothingUsable, type Outcome, rendered } from './common.ts';
import { eligibleUpstreams } from '../services.ts';
import { UpstreamError } from '../errors.ts';

type Endpoint = 'search' | 'autocomplete';

/** Asks one upstream, trying its endpoints in order (nuget.org lists a primary and a secondary search host). */
function upstreamDoc(s: Services, u: Upstream, endpoint: Endpoint, query: URLSearchParams): Promise<DocResult> {
  const qs = query.toString();
  return s.docs.get(`${endpoint}:${u.name}:${qs}`, 'search', u.name, async (stale) => {
    const { resources } = await u.discover();
    const urls = endpoint === 'search' ? resources.search : resources.autocomplete;
    if (urls.length === 0) return { kind: 'notFound' };
    let last: unknown;
    for (const url of urls) {
      try {
        return await u.loadRewritten(`${url}?${qs}`, stale, undefined, u.config.searchTimeout);
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error ? last : new UpstreamError(u.name, `${endpoint} failed`);
  });
}

/**
 * Upstreams are asked for everything up to the end of the requested page, then merged and sliced here. When a
 * source mapping may filter results out (squatted ids on a public feed), each upstream is asked for half as many
 * again, so a merged page is not left short while an upstream still had hits to give.
 */
function upstreamQuery(params: SearchParams, extra: Record<string, string | undefined>, mapped: boolean): URLSearchParams {
  const q = new URLSearchParams();
  const wanted = params.skip + params.take;
  q.set('q', params.q);
  q.set('skip', '0');
  q.set('take', String(Math.min(1000, mapped ? Math.ceil(wanted * 1.5) + 10 : wanted)));
  q.set('prerelease', String(params.prerelease));
  if (params.semVerLevel !== undefined) q.set('semVerLevel', params.semVerLevel);
  if (params.packageType !== undefined) {
    q.set('packageType', params.packageType);
    q.set('packageTypeFilter', params.packageType);
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
  return q;
}

function bodyOf<T>(o: Outcome): T | undefined {
  return o.kind === 'ok' ? (JSON.parse(o.res.doc.body) as T) : undefined;
}

export function searchRoutes(s: Services, feed: Feed, endpoint: Endpoint): Hono<Env> {
  const app = new Hono<Env>();
  const eligibleNames = (id: string): string[] => s.mapping.eligible(id);

  const respond = async (c: Context<Env>, compute: () => Promise<{ json: unknown; outcomes: Outcome[]; ids: string[] }>): Promise<Response> => {
    return rendered(c, s, feed, async () => {
      const { json, outcomes, ids } = await compute();
      return { json: JSON.stringify(json), kind: 'search', outcomes, ids };
    });
  };

  app.get('/', (c) => {
    const query = c.req.query();
    const params = parseSearchParams(query);
    // Autocomplete's version mode (protocol.md §1.6): `id` given and `q` absent.
    if (endpoint === 'autocomplete' && query.q === undefined && query.id !== undefined) {
      const id = idParam(query.id);
      if (s.config.offline) {
        return respond(c, async () => {
          const local = (await cachedPackages(s, feed)).filter((p) => p.id === id);
          const found = localSearch(local, { ...params, q: `id:${id}`, skip: 0, take: 1 }, eligibleNames).data[0];
          const versions = Array.isArray(found?.versions) ? (found.versions as Array<{ version: string }>).map((v) => v.version) : [];
          return { json: { data: versions }, outcomes: [], ids: [id] };
        });
      }
      return respond(c, async () => {
        const q = new URLSearchParams({ id, prerelease: String(params.prerelease) });
        if (params.semVerLevel !== undefined) q.set('semVerLevel', params.semVerLevel);
        const outcomes = await fanOut(eligibleUpstreams(s, feed, id), (u) => upstreamDoc(s, u, endpoint, q));
        const ok = outcomes.filter((o) => o.kind === 'ok');
        if (ok.length === 0 && outcomes.some((o) => o.kind === 'failed')) throw nothingUsable(s, outcomes, `versions of ${id}`);
        const lists = ok.map((o) => bodyOf<{ data?: unknown }>(o)?.data).map((d) => (Array.isArray(d) ? d.filter((v): v is string => typeof v === 'string') : []));
        return { json: mergeAutocompleteVersions(lists), outcomes, ids: [id] };
      });
    }
    if (s.config.offline) {
      // No search service to ask: answer from what is stored (design.md §5).
      return respond(c, async () => {
        const local = await cachedPackages(s, feed);
        const json = endpoint === 'search' ? localSearch(local, params, eligibleNames) : localAutocompleteIds(local, params, eligibleNames);
        return { json, outcomes: [], ids: ['*'] };
      });
    }
    return respond(c, async () => {
      const q = upstreamQuery(params, endpoint === 'search' ? { supportedFramework: query.supportedFramework, includeDelisted: query.includeDelisted } : {}, s.mapping.mapped);
      const outcomes = await fanOut(feed.upstreams, (u) => upstreamDoc(s, u, endpoint, q));
      if (!outcomes.some((o) => o.kind === 'ok') && outcomes.some((o) => o.kind === 'failed')) throw nothingUsable(s, outcomes, endpoint);
      if (endpoint === 'search') {
        const results: UpstreamSearch[] = outcomes.flatMap((o) => {
          const b = bodyOf<{ totalHits?: unknown; data?: unknown }>(o);
          if (!b || !Array.isArray(b.data)) return [];
          return [{ upstream: o.upstream.name, totalHits: typeof b.totalHits === 'number' ? b.totalHits : b.data.length, data: b.data as UpstreamSearch['data'] }];
        });
        return { json: mergeSearch(results, params, eligibleNames), outcomes, ids: ['*'] };
      }
      const results = outcomes.flatMap((o) => {
        const b = bodyOf<{ totalHits?: unknown; data?: unknown }>(o);
        if (!b || !Array.isArray(b.data)) return [];
        const data = b.data.filter((v): v is string => typeof v === 'string');
        return [{ upstream: o.upstream.name, totalHits: typeof b.totalHits === 'number' ? b.totalHits : data.length, data }];
      });
      return { json: mergeAutocompleteIds(results, params.skip, params.take, eligibleNames), outcomes, ids: ['*'] };
    });
  });

  return app;
}
