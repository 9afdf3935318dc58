/**
 * Bounds through the Source seam (issue 8): a registration of many non-inlined pages is read within
 * limits.registrationPages / limits.registrationSize (an error, quickly, when over; every version when within);
 * deep search pages go to the upstream (skip past 1000); one hanging upstream does not hold merged search for
 * searchTimeout when its own timeout is shorter. Hostile upstreams are real servers on 127.0.0.1.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHostileUpstream, json, type HostileUpstream } from '../helpers/hostile-upstream.ts';
import { startShapedFeed } from '../helpers/shaped-feed.ts';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { get, isObject } from '../helpers/sources-harness.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function hostile(): Promise<HostileUpstream> {
  const h = await startHostileUpstream();
  cleanups.push(() => h.close());
  return h;
}

async function nugate(input: Omit<ConfigInput, 'listen'>): Promise<Running> {
  const ng = await startNugateInProcess({ publicUrl: 'http://nugate.test', ...input });
  cleanups.push(() => ng.stop());
  return ng;
}

/** A JSON body built when asked for (300 pages of 2 MB are never all in this process's memory at once). */
function lazyJson(build: () => unknown): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    const body = Buffer.from(JSON.stringify(build()));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
    res.end(body);
  };
}

const ID = 'many.pages';

/** An upstream whose registration of `pages` versions has one non-inlined page per version, each about `padding` bytes. */
async function pagedUpstream(pages: number, padding: number): Promise<HostileUpstream> {
  const h = await hostile();
  h.route('/v3/index.json', json({ version: '3.0.0', resources: [
    { '@id': h.url('/flat/'), '@type': 'PackageBaseAddress/3.0.0' },
    { '@id': h.url('/reg/'), '@type': 'RegistrationsBaseUrl/3.6.0' },
  ] }));
  const version = (i: number): string => `1.0.${i}`;
  const pageUrl = (i: number): string => h.url(`/reg/${ID}/page/${version(i)}/${version(i)}.json`);
  h.route(`/reg/${ID}/index.json`, json({
    '@id': h.url(`/reg/${ID}/index.json`),
    count: pages,
    items: Array.from({ length: pages }, (_, i) => ({ '@id': pageUrl(i), count: 1, lower: version(i), upper: version(i) })),
  }));
  for (let i = 0; i < pages; i++) {
    h.route(`/reg/${ID}/page/${version(i)}/${version(i)}.json`, lazyJson(() => ({
      '@id': pageUrl(i),
      count: 1,
      lower: version(i),
      upper: version(i),
      items: [{
        '@id': h.url(`/reg/${ID}/${version(i)}.json`),
        catalogEntry: { '@id': h.url(`/reg/${ID}/${version(i)}.json`), id: 'Many.Pages', version: version(i), description: 'x'.repeat(padding) },
        packageContent: h.url(`/flat/${ID}/${version(i)}/${ID}.${version(i)}.nupkg`),
      }],
    })));
  }
  return h;
}

/** Versions of a (repaged) nugate registration, following its pages when they are not inlined. */
async function registrationVersions(ng: Running, index: unknown): Promise<string[]> {
  assert.ok(isObject(index) && Array.isArray(index.items), JSON.stringify(index).slice(0, 300));
  const out: string[] = [];
  for (const page of index.items.filter(isObject)) {
    let items = page.items;
    if (!Array.isArray(items)) {
      const r = await get(`${ng.url}${String(page['@id']).slice('http://nugate.test'.length)}`);
      assert.equal(r.status, 200, r.text);
      items = isObject(r.json) ? r.json.items : undefined;
    }
    for (const leaf of Array.isArray(items) ? items.filter(isObject) : []) {
      const entry = leaf.catalogEntry;
      if (isObject(entry)) out.push(String(entry.version));
    }
  }
  return out;
}

// --- 10. registrations with many pages -------------------------------------------------------------------------

test('a registration of 300 small non-inlined pages works with the default limits', async () => {
  const up = await pagedUpstream(300, 10);
  const ng = await nugate({ upstreams: [{ name: 'paged', url: up.url('/v3/index.json') }] });
  const r = await get(`${ng.url}/v3/registration/${ID}/index.json`);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.ms < 20_000, `took ${Math.round(r.ms)} ms`);
  const versions = await registrationVersions(ng, r.json);
  assert.equal(versions.length, 300, `versions: ${versions.length}`);
  assert.equal(up.count(`/reg/${ID}/page/`), 300, 'each page fetched once');
});

test('limits.registrationPages 50 against 300 pages: a clear 502/503, quickly, after at most 50 page requests', async () => {
  const up = await pagedUpstream(300, 10);
  const ng = await nugate({ upstreams: [{ name: 'paged', url: up.url('/v3/index.json') }], limits: { registrationPages: 50 } });
  const r = await get(`${ng.url}/v3/registration/${ID}/index.json`);
  assert.ok(r.status === 502 || r.status === 503, `${r.status} ${r.text}`);
  assert.ok(r.ms < 10_000, `took ${Math.round(r.ms)} ms`);
  assert.match(r.text, /pages|too large|limit/i, `the reason: ${r.text}`);
  assert.ok(up.count(`/reg/${ID}/page/`) <= 50, `${up.count(`/reg/${ID}/page/`)} page requests`);
  assert.ok(!r.text.includes('127.0.0.1'), r.text);
});

test('pages of 2 MB with limits.registrationSize 8MB: refused after a few pages, RSS does not balloon', async () => {
  const up = await pagedUpstream(300, 2 * 1024 * 1024);
  const ng = await nugate({ upstreams: [{ name: 'paged', url: up.url('/v3/index.json') }], limits: { registrationSize: '8MB' } });
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const r = await get(`${ng.url}/v3/registration/${ID}/index.json`);
  const rssAfter = process.memoryUsage().rss;
  assert.ok(r.status === 502 || r.status === 503, `${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(r.ms < 20_000, `took ${Math.round(r.ms)} ms`);
  const pagesRead = up.count(`/reg/${ID}/page/`);
  assert.ok(pagesRead <= 5, `${pagesRead} pages of 2 MB read against an 8 MB budget`);
  assert.ok(rssAfter - rssBefore < 256 * 1024 * 1024, `RSS grew ${Math.round((rssAfter - rssBefore) / 1048576)} MB`);
  // A second request is refused the same way (nothing half-stored is served).
  const again = await get(`${ng.url}/v3/registration/${ID}/index.json`);
  assert.ok(again.status === 502 || again.status === 503, `${again.status}`);
});

// --- 11. search ------------------------------------------------------------------------------------------------

test('search skip=1500&take=20 pages through an upstream that honours skip/take', async () => {
  const up = await hostile();
  up.route('/v3/index.json', json({ version: '3.0.0', resources: [
    { '@id': up.url('/flat/'), '@type': 'PackageBaseAddress/3.0.0' },
    { '@id': up.url('/reg/'), '@type': 'RegistrationsBaseUrl/3.6.0' },
    { '@id': up.url('/query'), '@type': 'SearchQueryService/3.0.0-beta' },
  ] }));
  const TOTAL = 5000;
  up.route('/query', (req, res) => {
    const q = new URL(req.url ?? '/', up.origin).searchParams;
    const skip = Number(q.get('skip') ?? 0);
    const take = Number(q.get('take') ?? 20);
    const data = [];
    for (let i = skip; i < Math.min(TOTAL, skip + take); i++) {
      const id = `Deep.Pkg${String(i).padStart(4, '0')}`;
      data.push({ '@id': up.url(`/reg/${id.toLowerCase()}/index.json`), id, version: '1.0.0', description: `number ${i}`, versions: [{ version: '1.0.0', downloads: 0, '@id': up.url(`/reg/${id.toLowerCase()}/1.0.0.json`) }] });
    }
    json({ totalHits: TOTAL, data })(req, res);
  });
  const ng = await nugate({ upstreams: [{ name: 'deep', url: up.url('/v3/index.json') }] });
  const r = await get(`${ng.url}/v3/search?q=deep&skip=1500&take=20`);
  assert.equal(r.status, 200, r.text);
  assert.ok(isObject(r.json) && Array.isArray(r.json.data), r.text);
  const ids = r.json.data.filter(isObject).map((d) => d.id);
  assert.equal(ids.length, 20, `results past 1000: ${r.text.slice(0, 300)}`);
  assert.equal(ids[0], 'Deep.Pkg1500');
  const asked = up.requests.filter((x) => x.path.startsWith('/query')).map((x) => new URL(x.path, up.origin).searchParams);
  assert.ok(asked.some((p) => p.get('skip') === '1500' && Number(p.get('take')) >= 20), `upstream was asked ${asked.map((p) => p.toString()).join(' | ')}`);
});

test('merged search with one hanging upstream (timeout 300 ms, searchTimeout 5 s) answers well under 5 s with the other upstream\'s results', async () => {
  const fast = await startShapedFeed({ search: true, packages: [{ id: 'Fast.Pkg', version: '1.0.0', description: 'answers at once' }] });
  cleanups.push(() => fast.close());
  const slow = await hostile();
  slow.route('/v3/index.json', json({ version: '3.0.0', resources: [
    { '@id': slow.url('/flat/'), '@type': 'PackageBaseAddress/3.0.0' },
    { '@id': slow.url('/reg/'), '@type': 'RegistrationsBaseUrl/3.6.0' },
    { '@id': slow.url('/query'), '@type': 'SearchQueryService/3.0.0-beta' },
    { '@id': slow.url('/autocomplete'), '@type': 'SearchAutocompleteService/3.0.0-beta' },
  ] }));
  slow.route('/query', () => undefined); // never answers
  slow.route('/autocomplete', () => undefined);
  const ng = await nugate({
    upstreams: [
      { name: 'fast', url: fast.indexUrl },
      { name: 'slow', url: slow.url('/v3/index.json'), timeout: '300ms', searchTimeout: '5s' },
    ],
  });
  assert.equal((await get(`${ng.url}/v3/index.json`)).status, 200);

  const r = await get(`${ng.url}/v3/search?q=fast`);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.ms < 2000, `merged search took ${Math.round(r.ms)} ms with a 300 ms upstream timeout`);
  assert.ok(isObject(r.json) && Array.isArray(r.json.data) && r.json.data.some((d) => isObject(d) && d.id === 'Fast.Pkg'), r.text);
  assert.ok(slow.count('/query') >= 1, 'the hanging upstream was asked');

  const ac = await get(`${ng.url}/v3/autocomplete?q=fast`);
  assert.equal(ac.status, 200, ac.text);
  assert.ok(ac.ms < 2000, `merged autocomplete took ${Math.round(ac.ms)} ms`);
  assert.ok(isObject(ac.json) && Array.isArray(ac.json.data) && ac.json.data.includes('Fast.Pkg'), ac.text);
});
