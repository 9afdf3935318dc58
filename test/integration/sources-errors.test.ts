/**
 * Outages, upstream errors and passthrough links through the Source seam (issue 8, ARCHITECTURE.md "Status model"):
 * nothing held and no upstream → 503 with Retry-After for every kind of resource; an upstream 429 keeps its
 * Retry-After; an upstream refusing nugate is a 502, never a 500; no text nugate sends names an upstream URL, host
 * or port; only links an upstream document named can be followed through /v3/raw/.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Running } from '../helpers/inproc.ts';
import type { ShapedFeed } from '../helpers/shaped-feed.ts';
import { get, isObject, upstreamTraces, type Got } from '../helpers/sources-harness.ts';
import { PUBLIC, testScope } from '../helpers/sources-harness.ts';

const scope = testScope();
after(() => scope.close());
const { feed, nugate } = scope;

function status(code: number, headers: Record<string, string> = {}, body = `upstream says ${code}`): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(code, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  };
}

// --- 6. outages and upstream errors ----------------------------------------------------------------------------

const KINDS = (id: string): Array<[string, string]> => [
  ['flat index', `/v3/flatcontainer/${id}/index.json`],
  ['registration', `/v3/registration/${id}/index.json`],
  ['nupkg', `/v3/flatcontainer/${id}/1.0.0/${id}.1.0.0.nupkg`],
  ['search', `/v3/search?q=${id}`],
];

async function assertUnavailable(ng: Running, up: ShapedFeed, id: string): Promise<void> {
  for (const [kind, path] of KINDS(id)) {
    const r = await get(`${ng.url}${path}`);
    assert.equal(r.status, 503, `${kind} with the upstream down and nothing held: ${r.status} ${r.text}`);
    const retryAfter = r.headers.get('retry-after');
    assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter), `${kind}: Retry-After ${retryAfter}`);
    assert.deepEqual(upstreamTraces(r, [up]), [], `${kind}: ${r.text}`);
  }
}

test('upstream down and never reached, nothing held: flat index, registration, nupkg and search are 503 with Retry-After', async () => {
  const up = await feed({ search: true, packages: [{ id: 'Gone.Pkg', version: '1.0.0' }] });
  await up.close();
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  await assertUnavailable(ng, up, 'gone.pkg');
});

test('upstream down after its service index was held, nothing held for the id: 503 with Retry-After for every kind', async () => {
  const up = await feed({ search: true, packages: [{ id: 'Gone.Pkg', version: '1.0.0' }] });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  assert.equal((await get(`${ng.url}/v3/index.json`)).status, 200);
  await up.close();
  await assertUnavailable(ng, up, 'gone.pkg');
});

test('an upstream 429 with Retry-After: 7 on a nupkg is a 429 with Retry-After 7', async () => {
  const up = await feed({ packages: [{ id: 'Rate.Pkg', version: '1.0.0' }, { id: 'Rate.List', version: '1.0.0' }] });
  up.override('/flat/rate.pkg/1.0.0/rate.pkg.1.0.0.nupkg', status(429, { 'retry-after': '7' }));
  up.override('/flat/rate.list/index.json', status(429, { 'retry-after': '7' }));
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  const r = await get(`${ng.url}/v3/flatcontainer/rate.pkg/1.0.0/rate.pkg.1.0.0.nupkg`);
  assert.equal(r.status, 429, `nupkg: ${r.status} ${r.text}`);
  assert.equal(r.headers.get('retry-after'), '7');
  assert.deepEqual(upstreamTraces(r, [up]), []);

  const list = await get(`${ng.url}/v3/flatcontainer/rate.list/index.json`);
  assert.equal(list.status, 429, `flat index: ${list.status} ${list.text}`);
  assert.equal(list.headers.get('retry-after'), '7');
});

test('an upstream 400, 401 or 403 on a nupkg is a 502 (never a 500), naming no upstream address', async () => {
  const codes = [400, 401, 403];
  const up = await feed({ packages: codes.map((c) => ({ id: `Refused${c}.Pkg`, version: '1.0.0' })) });
  for (const c of codes) up.override(`/flat/refused${c}.pkg/1.0.0/`, status(c, c === 401 ? { 'www-authenticate': `Basic realm="${up.origin}"` } : {}, `denied by ${up.origin}`));
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  const answers: string[] = [];
  for (const c of codes) {
    const r = await get(`${ng.url}/v3/flatcontainer/refused${c}.pkg/1.0.0/refused${c}.pkg.1.0.0.nupkg`);
    answers.push(`${c} → ${r.status} ${r.text}`);
    assert.notEqual(r.status, 500, `upstream ${c}: ${r.text}`);
    assert.equal(r.headers.get('www-authenticate'), null, 'the upstream challenge is not passed to the client');
    assert.deepEqual(upstreamTraces(r, [up]), [], `upstream ${c}: ${r.text}`);
  }
  assert.deepEqual(answers.map((a) => a.slice(0, 9)), codes.map((c) => `${c} → 502`), answers.join('\n'));
});

// --- 14. explain and every error text --------------------------------------------------------------------------

test('/v3/explain and every error text name upstreams by their configured name only', async () => {
  const up = await feed({ search: true, packages: [{ id: 'Ok.Pkg', version: '1.0.0' }, { id: 'Broken.Pkg', version: '1.0.0' }, { id: 'Html.Pkg', version: '1.0.0' }, { id: 'Hang.Pkg', version: '1.0.0' }] });
  up.override('/flat/broken.pkg/', status(500, {}, `internal error at ${up.origin}`));
  up.override('/reg/broken.pkg/', status(500, {}, `internal error at ${up.origin}`));
  up.override('/flat/html.pkg/', (_req, res) => {
    const body = `<html><body>Sign in at ${up.origin}/login</body></html>`;
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(body.length) });
    res.end(body);
  });
  up.override('/flat/hang.pkg/', () => undefined);
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl, timeout: '300ms' }], cache: { staleWarning: 'always' } });
  const seen: Got[] = [];
  const check = async (path: string): Promise<Got> => {
    const r = await get(`${ng.url}${path}`, { 'x-nuget-session-id': 's' });
    assert.notEqual(r.status, 500, `${path}: ${r.text}`);
    assert.deepEqual(upstreamTraces(r, [up]), [], `${path} (${r.status}): ${r.text} ${r.headers.get('x-nuget-warning') ?? ''}`);
    seen.push(r);
    return r;
  };
  assert.equal((await check('/v3/explain/ok.pkg/1.0.0')).status, 200);
  for (const id of ['broken.pkg', 'html.pkg', 'hang.pkg']) {
    assert.ok((await check(`/v3/flatcontainer/${id}/index.json`)).status >= 500);
    await check(`/v3/flatcontainer/${id}/1.0.0/${id}.1.0.0.nupkg`);
    await check(`/v3/registration/${id}/index.json`);
    const explain = await check(`/v3/explain/${id}/1.0.0`);
    assert.equal(explain.status, 200, explain.text);
    assert.ok(isObject(explain.json), explain.text);
  }
  await check('/v3/flatcontainer/not.there/index.json');
  await check('/v3/registration/Inv@lid/index.json');
  await check('/v3/flatcontainer/ok.pkg/not-a-version/ok.pkg.nupkg');

  // The same after the upstream is gone.
  await up.close();
  for (const path of ['/v3/explain/ok.pkg/1.0.0', '/v3/explain/new.pkg/1.0.0', '/v3/flatcontainer/new.pkg/index.json', '/v3/search?q=new', '/v3/autocomplete?q=new', '/v3/vulnerabilities/index.json']) {
    await check(path);
  }
  assert.ok(seen.some((r) => r.text.includes('registry')), 'errors name the upstream by its configured name');
});

// --- 9. passthrough links --------------------------------------------------------------------------------------

test('/v3/raw/: client-chosen paths, encoded traversal and tampered tokens are 404 with zero upstream requests; real links serve the rewritten pages', async () => {
  const up = await feed({ vulnerability: true, publish: true, packages: [{ id: 'Raw.Pkg', version: '1.0.0' }] });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  const index = await get(`${ng.url}/v3/vulnerabilities/index.json`);
  assert.equal(index.status, 200, index.text);
  assert.ok(Array.isArray(index.json) && index.json.length === 2, index.text);
  const pages = index.json.filter(isObject).map((e) => String(e['@id']));
  const prefix = `${PUBLIC}/v3/raw/registry/`;
  for (const p of pages) assert.ok(p.startsWith(prefix), `page link ${p}`);
  assert.deepEqual(upstreamTraces(index, [up]), []);

  const token = (pages[0] ?? '').slice(prefix.length);
  const [slot, rest, mac] = token.split('.');
  assert.ok(slot !== undefined && rest !== undefined && mac !== undefined, `token ${token}`);
  const flip = (s: string): string => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
  const forged = (path: string): string => `${slot}.${Buffer.from(path).toString('base64url')}.${mac}`;

  const before = up.requests.length;
  const refused = [
    '/v3/raw/registry/anything',
    '/v3/raw/registry/..%2f..%2fapi%2fv2%2fpackage',
    '/v3/raw/registry/%2e%2e%2f%2e%2e%2fapi%2fv2%2fpackage',
    '/v3/raw/registry/a/b/c',
    `/v3/raw/registry/${slot}.${rest}.${flip(mac)}`,
    `/v3/raw/registry/${forged('../api/v2/package')}`,
    `/v3/raw/registry/${forged('base.json?x=1')}`,
    `/v3/raw/registry/${Number(slot) + 1}.${rest}.${mac}`,
    `/v3/raw/registry/${encodeURIComponent(`${up.origin}/api/v2/package`)}`,
    `/v3/raw/nope/${token}`,
    `/upstreams/registry/v3/raw/registry/..%2f..%2fapi%2fv2%2fpackage`,
  ];
  for (const path of refused) {
    const r = await get(`${ng.url}${path}`);
    assert.equal(r.status, 404, `${path}: ${r.status} ${r.text}`);
    assert.deepEqual(upstreamTraces(r, [up]), []);
  }
  assert.equal(up.requests.length - before, 0, `the upstream saw ${up.requests.slice(before).map((r) => r.path).join(', ')}`);
  assert.equal(up.count('/api/v2/package'), 0, 'nothing is ever read from the publish endpoint');

  const bodies: string[] = [];
  for (const p of pages) {
    const r = await get(`${ng.url}${p.slice(PUBLIC.length)}`);
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    assert.deepEqual(upstreamTraces(r, [up]), []);
    bodies.push(r.text);
  }
  assert.ok(bodies.some((b) => b.includes('vulnerable.pkg')) && bodies.some((b) => b.includes('other.pkg')), bodies.join('\n'));
  assert.equal(up.count('/vuln/base.json'), 1);
  assert.equal(up.count('/vuln/update.json'), 1);
});
