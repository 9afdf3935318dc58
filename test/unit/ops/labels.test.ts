/**
 * Metric label values come from fixed sets whatever the request (issue 8: random paths grew /metrics to 5.2 MB).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cacheLabel, CACHE_STATES, RESOURCES, resourceLabel, statusLabel } from '../../../src/ops/labels.ts';

describe('resourceLabel', () => {
  it('names every route nugate serves, in the merged feed and in per-upstream views', () => {
    const cases: Array<[string, string]> = [
      ['/v3/index.json', 'service-index'],
      ['/upstreams/nuget.org/v3/index.json', 'service-index'],
      ['/v3/flatcontainer/a.b/index.json', 'flatcontainer'],
      ['/v3/flatcontainer/a.b/1.0.0/a.b.1.0.0.nupkg', 'flatcontainer'],
      ['/v3/registration/a.b/index.json', 'registration'],
      ['/v3/registration-semver1/a.b/index.json', 'registration'],
      ['/upstreams/x/v3/registration/a.b/page/1.0.0/2.0.0.json', 'registration'],
      ['/v3/search', 'search'],
      ['/v3/autocomplete', 'autocomplete'],
      ['/v3/vulnerabilities/index.json', 'vulnerabilities'],
      ['/v3/package', 'package'],
      ['/v3/package/a.b/1.0.0', 'package'],
      ['/v3/symbolpackage', 'package'],
      ['/api/v2/package', 'package'],
      ['/api/v2/package/a.b/1.0.0', 'package'],
      ['/v3/explain/a.b', 'explain'],
      ['/v3/raw/u/abc/x.json', 'raw'],
      ['/health', 'health'],
      ['/metrics', 'metrics'],
    ];
    for (const [path, label] of cases) assert.equal(resourceLabel(path), label, path);
  });

  it('puts anything else under "other", so client text never becomes a label', () => {
    for (const path of ['/', '/v3/', '/v3/x', '/v3/flatcontainerx/a', '/v3/index.jsonx', '/v3/Search', '/v3//flatcontainer', '/api/v2/packages', '/health/x', '/metrics/', '/x/v3/search', '/upstreams/a/b/v3/search', '/v3/%2e%2e']) {
      assert.equal(resourceLabel(path), 'other', path);
    }
  });

  it('always answers from RESOURCES', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const segs = Array.from({ length: 1 + (i % 4) }, (_, j) => ((i * 7919 + j * 104729) % 1e6).toString(36));
      seen.add(resourceLabel(`/${i % 2 ? 'v3/' : ''}${segs.join('/')}`));
    }
    for (const label of seen) assert.ok((RESOURCES as readonly string[]).includes(label), label);
  });
});

describe('statusLabel', () => {
  it('keeps the codes worth telling apart and folds the rest into their class', () => {
    assert.equal(statusLabel(200), '200');
    assert.equal(statusLabel(304), '304');
    assert.equal(statusLabel(401), '401');
    assert.equal(statusLabel(429), '429');
    assert.equal(statusLabel(503), '503');
    assert.equal(statusLabel(418), '4xx');
    assert.equal(statusLabel(599), '5xx');
    assert.equal(statusLabel(103), '1xx');
    assert.equal(statusLabel(0), 'other');
    assert.equal(statusLabel(999), 'other');
  });

  it('has a ceiling whatever the input', () => {
    const seen = new Set<string>();
    for (let s = -5; s < 1200; s++) seen.add(statusLabel(s));
    assert.ok(seen.size < 40, `${seen.size} status labels`);
  });
});

describe('cacheLabel', () => {
  it('passes the known X-Cache states and maps anything else to "-"', () => {
    for (const s of ['HIT', 'MISS', 'STALE', 'REVALIDATED']) assert.equal(cacheLabel(s), s);
    for (const s of [undefined, null, '', 'hit', 'BYPASS', 'HIT, MISS', 'x'.repeat(100)]) assert.equal(cacheLabel(s), '-');
    assert.deepEqual([...CACHE_STATES].sort(), ['-', 'HIT', 'MISS', 'REVALIDATED', 'STALE']);
  });
});
