/**
 * /metrics after a scripted sequence (issue 12): per-upstream requests by result, errors by kind, bytes,
 * connections opened (one keep-alive connection for sequential traffic), cache results per resource with real
 * labels, bytes served. Counters are checked exactly against what the fake upstream and the client saw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNugateInProcess } from '../helpers/inproc.ts';
import { startFakeUpstream } from '../helpers/fake-upstream.ts';

function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    const have = (m?.[1] ?? '').split(',');
    if (want.every((w) => have.includes(w))) return Number(m?.[2]);
  }
  return 0;
}

test('metrics after a scripted sequence: upstream results, errors, bytes, connections, cache results, bytes served', async () => {
  const upstream = await startFakeUpstream([{ id: 'Contoso.Lib', version: '1.0.0' }]);
  const nugate = await startNugateInProcess({ upstreams: [{ name: 'feed', url: upstream.indexUrl, maxFails: 100 }], warm: { enabled: false } });
  try {
    let clientBodyBytes = 0;
    const get = async (path: string): Promise<{ status: number; cache: string | null }> => {
      const res = await fetch(`${nugate.url}${path}`);
      clientBodyBytes += (await res.arrayBuffer()).byteLength;
      // One request at a time, and a tick between them, so nugate's upstream requests reuse one connection.
      await new Promise((resolve) => setImmediate(resolve));
      return { status: res.status, cache: res.headers.get('x-cache') };
    };
    const versions = '/v3/flatcontainer/contoso.lib/index.json';
    const nupkg = '/v3/flatcontainer/contoso.lib/1.0.0/contoso.lib.1.0.0.nupkg';
    assert.equal((await get(versions)).cache, 'MISS');
    assert.equal((await get(versions)).cache, 'HIT');
    assert.equal((await get(nupkg)).cache, 'MISS');
    assert.equal((await get(nupkg)).cache, 'HIT');
    assert.equal((await get('/v3/flatcontainer/no.such.package/index.json')).status, 404);
    upstream.fail('/flat/broken.package/', 'status500');
    assert.equal((await get('/v3/flatcontainer/broken.package/index.json')).status, 503);
    await nugate.nugate.settle();

    const text = await (await fetch(`${nugate.url}/metrics`)).text();
    const byPath = (s: string): number => upstream.requests.filter((r) => r.path.includes(s)).length;
    const main = upstream.requests.filter((r) => !r.path.startsWith('search:'));
    // Upstream side: service index + versions (ok), nupkg (ok), the unknown id (404), the broken one (500).
    assert.equal(byPath('/flat/no.such.package/'), 1);
    assert.equal(byPath('/flat/broken.package/'), 1);
    const ok = main.length - 2;
    assert.equal(sample(text, 'nugate_upstream_requests_total', { upstream: 'feed', result: 'ok' }), ok);
    assert.equal(sample(text, 'nugate_upstream_requests_total', { upstream: 'feed', result: 'notFound' }), 1);
    assert.equal(sample(text, 'nugate_upstream_requests_total', { upstream: 'feed', result: 'serverError' }), 1);
    assert.equal(sample(text, 'nugate_upstream_errors_total', { upstream: 'feed', kind: 'status' }), 1);
    assert.equal(sample(text, 'nugate_upstream_request_duration_seconds_count', { upstream: 'feed' }), main.length);
    assert.equal(sample(text, 'nugate_upstream_connections_opened_total', { upstream: 'feed' }), 1, 'sequential upstream requests share one connection');
    assert.equal(sample(text, 'nugate_upstream_connections_open', { upstream: 'feed' }), 1);
    assert.ok(sample(text, 'nugate_upstream_received_bytes_total', { upstream: 'feed' }) >= upstream.nupkg('Contoso.Lib', '1.0.0').length);
    assert.equal(sample(text, 'nugate_upstream_breaker_state', { upstream: 'feed', state: 'closed' }), 1);
    assert.equal(sample(text, 'nugate_upstream_breaker_state', { upstream: 'feed', state: 'open' }), 0);
    // Client side: the flat container answered two misses and two hits; the 404 and the 503 carry no cache state.
    assert.equal(sample(text, 'nugate_cache_results_total', { resource: 'flatcontainer', result: 'hit' }), 2);
    assert.equal(sample(text, 'nugate_cache_results_total', { resource: 'flatcontainer', result: 'miss' }), 2, 'the streamed package miss is labelled too');
    assert.equal(sample(text, 'nugate_cache_results_total', { resource: 'flatcontainer', result: 'none' }), 2, 'the 404 and the 503');
    assert.equal(sample(text, 'nugate_http_requests_total', { resource: 'flatcontainer', status: '200', cache: '-' }), 0);
    assert.equal(sample(text, 'nugate_http_requests_total', { resource: 'flatcontainer', status: '200', cache: 'HIT' }), 2);
    const served = sample(text, 'nugate_served_bytes_total', { resource: 'flatcontainer' });
    assert.ok(served > clientBodyBytes && served < clientBodyBytes + 6 * 1024, `served ${served}, bodies ${clientBodyBytes}`);
    assert.ok(sample(text, 'nugate_cache_bytes', { tier: 'hot' }) > 0);
    assert.ok(sample(text, 'nugate_cache_entries', { tier: 'blobs' }) >= 1);
    // Labels only from fixed sets: no path or id anywhere in the scrape.
    assert.ok(!text.includes('contoso'), 'no package id in a label');
  } finally {
    await nugate.stop();
    await upstream.close();
  }
});
