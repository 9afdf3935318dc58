/**
 * SearchQueryService and SearchAutocompleteService (protocol.md §1.5–1.6). Each request fans out to every source of
 * the feed in parallel (each bounded by the smaller of its timeout and searchTimeout); results are filtered through
 * the source mapping, deduplicated and interleaved (src/merge/search.ts). A source without a search service, offline,
 * or down with nothing cached answers from what nugate holds (its Source does that), so search is never empty just
 * because an upstream has no search.
 */
import { Hono, type Context } from 'hono';
import type { Services, Feed } from '../services.ts';
import { parseSearchParams, mergeSearch, mergeAutocompleteIds, mergeAutocompleteVersions, type SearchParams } from '../merge/search.ts';
import { type Env } from '../http/respond.ts';
import { idParam, fanOut, nothingUsable, type Outcome, rendered } from './common.ts';
import { eligibleSources } from '../services.ts';

type Endpoint = 'search' | 'autocomplete';

/** nuget.org serves at most 1000 results a request; deeper pages are asked for as they are. */
const UPSTREAM_WINDOW = 1000;

/**
 * The window each source is asked for. Up to the 1000th result: everything up to the end of the requested page,
 * merged and sliced here; when a source mapping may filter results out (squatted ids on a public feed), half as many
 * again, so a merged page is not left short. Past that, each source is asked for the requested page itself.
 */
function upstreamWindow(params: SearchParams, mapped: boolean): { ask: SearchParams; merge: SearchParams } {
  const wanted = params.skip + params.take;
  if (wanted > UPSTREAM_WINDOW) return { ask: params, merge: { ...params, skip: 0 } };
  const take = Math.min(UPSTREAM_WINDOW, mapped ? Math.ceil(wanted * 1.5) + 10 : wanted);
  return { ask: { ...params, skip: 0, take }, merge: params };
}

function present(extra: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out;
}

export function searchRoutes(s: Services, feed: Feed, endpoint: Endpoint): Hono<Env> {
  const app = new Hono<Env>();
  const eligibleNames = (id: string): string[] => s.mapping.eligible(id);

  const respond = async (c: Context<Env>, compute: () => Promise<{ json: unknown; outcomes: Array<Outcome<unknown>>; ids: string[] }>): Promise<Response> => {
    return rendered(c, s, feed, async () => {
      const { json, outcomes, ids } = await compute();
      return { json: JSON.stringify(json), kind: 'search', outcomes, ids };
    });
  };

  const noAnswer = (outcomes: Array<Outcome<unknown>>): boolean => !outcomes.some((o) => o.kind === 'ok') && outcomes.some((o) => o.kind === 'failed');

  app.get('/', (c) => {
    const query = c.req.query();
    const params = parseSearchParams(query);
    // Autocomplete's version mode (protocol.md §1.6): `id` given and `q` absent.
    if (endpoint === 'autocomplete' && query.q === undefined && query.id !== undefined) {
      const id = idParam(query.id);
      return respond(c, async () => {
        const outcomes = await fanOut(eligibleSources(s, feed, id), (src) => src.autocompleteVersions(id, params));
        if (noAnswer(outcomes)) throw nothingUsable(s, outcomes, `versions of ${id}`);
        return { json: mergeAutocompleteVersions(outcomes.map((o) => (o.kind === 'ok' ? o.value : []))), outcomes, ids: [id] };
      });
    }
    const { ask, merge } = upstreamWindow(params, s.mapping.mapped);
    if (endpoint === 'search') {
      const extra = present({ supportedFramework: query.supportedFramework, includeDelisted: query.includeDelisted });
      return respond(c, async () => {
        const outcomes = await fanOut(feed.sources, (src) => src.search(ask, extra));
        if (noAnswer(outcomes)) throw nothingUsable(s, outcomes, 'search');
        const results = outcomes.flatMap((o) => (o.kind === 'ok' ? [{ upstream: o.source.name, ...o.value }] : []));
        return { json: mergeSearch(results, merge, eligibleNames), outcomes, ids: ['*'] };
      });
    }
    return respond(c, async () => {
      const outcomes = await fanOut(feed.sources, (src) => src.autocomplete(ask));
      if (noAnswer(outcomes)) throw nothingUsable(s, outcomes, 'autocomplete');
      const results = outcomes.flatMap((o) => (o.kind === 'ok' ? [{ upstream: o.source.name, ...o.value }] : []));
      return { json: mergeAutocompleteIds(results, merge.skip, merge.take, eligibleNames), outcomes, ids: ['*'] };
    });
  });

  return app;
}
