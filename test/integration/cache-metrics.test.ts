/**
 * /metrics counts cache answers by kind, tier and outcome, and evictions by tier (issue 12), exactly, after a scripted
 * sequence against a loopback upstream.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeUpstream } from '../helpers/fake-upstream.ts';
import { startNugateInProcess } from '../helpers/inproc.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function get(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

function counter(metrics: string, labels: string): number {
  const line = metrics.split('\n').find((l) => l.startsWith(`nugate_cache_tier_results_total{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('cache answers are counted by kind, tier and outcome', async () => {
  const up = await startFakeUpstream([
    { id: 'Metrics.Pkg', version: '1.0.0' },
    { id: 'Busy.Pkg', version: '1.0.0', padding: 256 * 1024 },
  ]);
  cleanups.push(() => up.close());
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }], warm: { enabled: false } });
  cleanups.push(() => ng.stop());
  const nupkg = `${ng.url}/v3/flatcontainer/metrics.pkg/1.0.0/metrics.pkg.1.0.0.nupkg`;

  assert.equal(await get(`${ng.url}/v3/flatcontainer/metrics.pkg/index.json`), 200); // service index + versions: 2 misses
  assert.equal(await get(`${ng.url}/v3/flatcontainer/metrics.pkg/index.json`), 200); // the rendered answer
  assert.equal(await get(nupkg), 200); // downloaded
  assert.equal(await get(nupkg), 200); // from the store (then kept in memory)
  assert.equal(await get(nupkg), 200); // the in-memory answer of the fast path
  // Five clients at once for a package that takes a while: one download, four joined it.
  up.delay = 300;
  const busy = `${ng.url}/v3/flatcontainer/busy.pkg/1.0.0/busy.pkg.1.0.0.nupkg`;
  assert.deepEqual(await Promise.all(Array.from({ length: 5 }, () => get(busy))), [200, 200, 200, 200, 200]);
  assert.equal(up.count('/flat/busy.pkg/1.0.0/'), 1);

  const metrics = await (await fetch(`${ng.url}/metrics`)).text();
  assert.equal(counter(metrics, 'kind="document",tier="upstream",outcome="miss"'), 2);
  assert.equal(counter(metrics, 'kind="document",tier="rendered",outcome="hit"'), 1);
  assert.equal(counter(metrics, 'kind="package",tier="upstream",outcome="miss"'), 2);
  assert.equal(counter(metrics, 'kind="package",tier="store",outcome="hit"'), 1);
  assert.equal(counter(metrics, 'kind="package",tier="rendered",outcome="hit"'), 1);
  assert.equal(counter(metrics, 'kind="package",tier="upstream",outcome="coalesced"'), 4);
  assert.match(metrics, /# TYPE nugate_cache_evictions_total counter/);
});

test('evictions are counted by tier: a hot tier too small for two packages pushes the first out', async () => {
  const up = await startFakeUpstream([
    { id: 'Big.One', version: '1.0.0', padding: 600 * 1024 },
    { id: 'Big.Two', version: '1.0.0', padding: 600 * 1024 },
  ]);
  cleanups.push(() => up.close());
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }], warm: { enabled: false }, cache: { hotMaxSize: '1MB', hotMaxEntrySize: '1MB' } });
  cleanups.push(() => ng.stop());
  for (const id of ['big.one', 'big.two']) {
    const url = `${ng.url}/v3/flatcontainer/${id}/1.0.0/${id}.1.0.0.nupkg`;
    assert.equal(await get(url), 200);
    assert.equal(await get(url), 200); // from the store, promoted to memory
  }
  const metrics = await (await fetch(`${ng.url}/metrics`)).text();
  const memory = /nugate_cache_evictions_total\{tier="memory"\} (\d+)/.exec(metrics)?.[1];
  assert.ok(Number(memory) >= 1, `memory evictions: ${String(memory)}`);
});
