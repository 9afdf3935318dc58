/** @jsxImportSource hono/jsx */
/**
 * The web UI: `/` (how to connect, upstream health, cache, recent activity), `/ui/search`, `/ui/packages/{id}` and
 * `/ui/packages/{id}/{version}` (with the explain answer). Server-rendered with hono/jsx, no script. It runs
 * behind the same middleware as the feed (Host check, read auth, access log), so `auth.read` covers it.
 *
 * Search and explain are nugate's own resources, asked in-process through a small app that mounts just those two
 * routes: the UI shows exactly what a client would get, without a second copy of the merge, and without the
 * inner requests being counted as client traffic.
 */
import { Hono, type Context } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { Services, Feed } from '../services.ts';
import type { CacheSummary } from '../cache/index.ts';
import type { Env } from '../http/respond.ts';
import { publicRoot } from '../http/public-base.ts';
import { isNugateError, type NugateError } from '../errors.ts';
import { idParam, versionParam } from '../resources/common.ts';
import { searchRoutes } from '../resources/search.ts';
import { explainRoutes } from '../resources/explain.ts';
import type { Activity } from './activity.ts';
import { Page, PAGE_HEADERS } from './layout.tsx';
import { HomePage } from './home.tsx';
import { SearchPage, searchAnswer, PAGE_SIZE, type SearchProps } from './search-page.tsx';
import { PackagePage, explainAnswer, type ExplainAnswer } from './package-page.tsx';
import { loadPackage } from './package-data.ts';

export interface UiDeps {
  services: Services;
  activity: Activity;
  /** Running cache totals (cache/index.ts `summary`). */
  cacheSummary(): CacheSummary;
}

/** Headers the inner requests keep: those publicRoot reads, so their rendered answers are the client's own. */
const FORWARDED = ['host', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix'];

const HEADINGS = { 400: 'Bad request', 404: 'Not found', 429: 'Rate limited upstream', 500: 'Error', 502: 'Upstream refused', 503: 'Not available' } as const;

async function page(c: Context<Env>, node: JSX.Element, status: 200 | 400 | 404 | 429 | 500 | 502 | 503 = 200): Promise<Response> {
  return c.html(`<!DOCTYPE html>${await node.toString()}`, status, PAGE_HEADERS);
}

export function uiRoutes(deps: UiDeps): Hono<Env> {
  const s = deps.services;
  const feed: Feed = { name: 'merged', path: 'v3/', sources: s.sources };
  const inner = new Hono<Env>();
  inner.route('/v3/search', searchRoutes(s, feed, 'search'));
  inner.route('/v3/explain', explainRoutes(s, feed));
  inner.onError((err, c) => {
    if (isNugateError(err)) return c.text(err.message, err.status as 400);
    throw err;
  });

  /** GETs one of nugate's own JSON resources in-process, as the client's request would have. */
  const ask = async (c: Context<Env>, path: string): Promise<{ status: number; body: unknown; text: string }> => {
    const headers = new Headers();
    for (const name of FORWARDED) {
      const v = c.req.header(name);
      if (v !== undefined) headers.set(name, v);
    }
    const res = await inner.request(new URL(path, c.req.url).toString(), { headers }, c.env);
    const text = await res.text();
    let body: unknown;
    if (res.ok) body = JSON.parse(text) as unknown;
    return { status: res.status, body, text };
  };

  /** Path prefix of the public root: links keep working behind a reverse proxy that adds one. */
  const baseOf = (c: Context<Env>): string => new URL(publicRoot(c, { publicUrl: s.config.publicUrl, trustProxy: s.config.trustProxy })).pathname;

  const app = new Hono<Env>();
  app.onError(async (err, c) => {
    if (!isNugateError(err)) throw err;
    const e: NugateError = err;
    const status = ([400, 404, 429, 502, 503] as const).find((x) => x === e.status) ?? 500;
    let base = '/';
    try {
      base = baseOf(c);
    } catch {
      // A Host nothing could use: the links fall back to the root.
    }
    return page(
      c,
      <Page title={HEADINGS[status]} base={base}>
        <h1>{HEADINGS[status]}</h1>
        <p class="notice warn" id="error">
          {e.message}
        </p>
      </Page>,
      status,
    );
  });

  app.get('/', async (c) => {
    const root = publicRoot(c, { publicUrl: s.config.publicUrl, trustProxy: s.config.trustProxy });
    return page(
      c,
      <HomePage
        base={new URL(root).pathname}
        feedUrl={`${root}v3/index.json`}
        authRead={s.config.auth.read}
        offline={s.config.offline}
        upstreams={s.sources.map((u) => ({ name: u.name, local: u.local, state: u.health() }))}
        cache={deps.cacheSummary()}
        counts={deps.activity.counts()}
        recent={deps.activity.recent().slice(0, 50)}
        workers={s.config.workers}
      />,
    );
  });

  app.get('/ui', (c) => c.redirect(`${baseOf(c)}ui/search`, 302));

  app.get('/ui/search', async (c) => {
    const query = (c.req.query('q') ?? '').slice(0, 200);
    const prerelease = c.req.query('prerelease') !== 'false';
    const skip = Math.min(Math.max(Number.parseInt(c.req.query('skip') ?? '0', 10) || 0, 0), 3000);
    const params = new URLSearchParams({ q: query, skip: String(skip), take: String(PAGE_SIZE), prerelease: String(prerelease), semVerLevel: '2.0.0' });
    const got = await ask(c, `/v3/search?${params.toString()}`);
    const props: SearchProps = { base: baseOf(c), query, prerelease, skip, answer: undefined };
    if (got.status === 200) {
      const parsed = searchAnswer.safeParse(got.body);
      if (parsed.success) props.answer = parsed.data;
      else props.error = 'The merged search answered in a shape this page cannot read.';
    } else {
      props.error = `Search is not available (${got.status}): ${got.text}`;
    }
    return page(c, <SearchPage {...props} />, props.error === undefined ? 200 : 503);
  });

  app.get('/ui/packages/:id', async (c) => {
    const id = idParam(c.req.param('id'));
    const view = await loadPackage(s, feed, id);
    return page(c, <PackagePage base={baseOf(c)} view={view} />);
  });

  app.get('/ui/packages/:id/:version', async (c) => {
    const id = idParam(c.req.param('id'));
    const version = versionParam(c.req.param('version'));
    const [view, got] = await Promise.all([loadPackage(s, feed, id, version), ask(c, `/v3/explain/${encodeURIComponent(id)}/${encodeURIComponent(version)}`)]);
    let explain: ExplainAnswer | undefined;
    if (got.status === 200) {
      const parsed = explainAnswer.safeParse(got.body);
      if (parsed.success) explain = parsed.data;
    }
    return page(c, <PackagePage base={baseOf(c)} view={view} {...(explain ? { explain } : {})} />, view.selected === undefined ? 404 : 200);
  });

  return app;
}
