import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  mergeAutocompleteIds,
  mergeAutocompleteVersions,
  mergeSearch,
  parseSearchParams,
  semVer2Enabled,
  type Json,
  type SearchParams,
  type UpstreamSearch,
} from '../../../src/merge/search.ts';
import { compileMapping } from '../../../src/merge/mapping.ts';

const ALL = () => ['internal', 'nuget.org'];

function params(overrides: Partial<SearchParams> = {}): SearchParams {
  return { q: '', skip: 0, take: 20, prerelease: false, semVerLevel: undefined, packageType: undefined, ...overrides };
}

function hit(id: string, versions: string[], extra: Json = {}): Json {
  return {
    id,
    version: versions[versions.length - 1],
    versions: versions.map((v) => ({ '@id': `https://nugate.test/v3/registration/${id.toLowerCase()}/${v}.json`, version: v, downloads: 1 })),
    packageTypes: [{ name: 'Dependency' }],
    totalDownloads: versions.length,
    ...extra,
  };
}

/** What the caller does: ask the upstream for skip=0, take=skip+take of its full ranked list. */
function answer(upstream: string, full: Json[], p: SearchParams): UpstreamSearch {
  return { upstream, totalHits: full.length, data: full.slice(0, p.skip + p.take) };
}

const ids = (data: Json[]) => data.map((d) => d['id'] as string);

describe('parseSearchParams', () => {
  it('applies nuget.org defaults and fallbacks', () => {
    assert.deepEqual(parseSearchParams({}), params());
    assert.equal(parseSearchParams({ skip: '-5' }).skip, 0);
    assert.equal(parseSearchParams({ skip: '999999' }).skip, 3000);
    assert.equal(parseSearchParams({ skip: 'abc' }).skip, 0);
    assert.equal(parseSearchParams({ take: '-1' }).take, 20);
    assert.equal(parseSearchParams({ take: '1001' }).take, 20);
    assert.equal(parseSearchParams({ take: '1000' }).take, 1000);
    assert.equal(parseSearchParams({ take: '0' }).take, 0);
    assert.equal(parseSearchParams({ take: '5x' }).take, 20);
    assert.equal(parseSearchParams({ prerelease: 'TRUE' }).prerelease, true);
    assert.equal(parseSearchParams({ prerelease: '1' }).prerelease, false);
    assert.equal(parseSearchParams({ q: 'packageid:Foo' }).q, 'packageid:Foo');
  });

  it('reads packageType and the legacy packageTypeFilter; empty means no filter', () => {
    assert.equal(parseSearchParams({ packageType: 'DotnetTool' }).packageType, 'DotnetTool');
    assert.equal(parseSearchParams({ packageTypeFilter: 'DotnetTool' }).packageType, 'DotnetTool');
    assert.equal(parseSearchParams({ packageType: '' }).packageType, undefined);
    assert.equal(parseSearchParams({ semVerLevel: '2.0.0' }).semVerLevel, '2.0.0');
  });

  it('semVerLevel >= 2.0.0 enables SemVer2', () => {
    assert.equal(semVer2Enabled(undefined), false);
    assert.equal(semVer2Enabled('1.0.0'), false);
    assert.equal(semVer2Enabled('2.0.0'), true);
    assert.equal(semVer2Enabled('2'), true);
    assert.equal(semVer2Enabled('garbage'), false);
  });
});

describe('mergeSearch', () => {
  it('interleaves by rank, dedupes ids case-insensitively, unites versions and sums downloads', () => {
    const internal = [hit('Contoso.A', ['1.0.0']), hit('Shared', ['1.0.0', '3.0.0'], { description: 'internal copy' })];
    const nuget = [hit('shared', ['2.0.0', '1.0.0'], { totalDownloads: 2 ** 40 }), hit('Newtonsoft.Json', ['13.0.3'])];
    const merged = mergeSearch(
      [
        { upstream: 'internal', totalHits: 2, data: internal },
        { upstream: 'nuget.org', totalHits: 2, data: nuget },
      ],
      params(),
      ALL,
    );
    // rank 0: Contoso.A (internal), shared (nuget.org); rank 1: Shared (dup), Newtonsoft.Json
    assert.deepEqual(ids(merged.data), ['Contoso.A', 'shared', 'Newtonsoft.Json']);
    const shared = merged.data[1];
    // The best-ranked hit (nuget.org's, rank 0) keeps its metadata...
    assert.equal(shared?.['description'], undefined);
    // ...versions are united and sorted, and version is the highest of the union.
    assert.deepEqual(
      (shared?.['versions'] as Json[]).map((v) => v['version']),
      ['1.0.0', '2.0.0', '3.0.0'],
    );
    assert.equal(shared?.['version'], '3.0.0');
    assert.equal(shared?.['totalDownloads'], 2 ** 40 + 2);
    assert.equal(merged.totalHits, 3);
  });

  it('drops ids the mapping does not allow from the upstream that returned them (dependency confusion)', () => {
    const mapping = compileMapping({ internal: ['Contoso.*'], 'nuget.org': ['*'] }, ALL());
    const merged = mergeSearch(
      [
        { upstream: 'internal', totalHits: 2, data: [hit('Contoso.Widgets', ['1.0.0'], { marker: 'internal' }), hit('Newtonsoft.Json', ['1.0.0'])] },
        { upstream: 'nuget.org', totalHits: 2, data: [hit('Contoso.Widgets', ['9.9.9'], { marker: 'evil' }), hit('Newtonsoft.Json', ['13.0.3'])] },
      ],
      params(),
      mapping.eligible,
    );
    assert.deepEqual(ids(merged.data), ['Contoso.Widgets', 'Newtonsoft.Json']);
    assert.equal(merged.data[0]?.['marker'], 'internal');
    assert.equal(merged.data[0]?.['version'], '1.0.0', 'the attacker version never appears');
    assert.deepEqual(
      (merged.data[1]?.['versions'] as Json[]).map((v) => v['version']),
      ['13.0.3'],
    );
    assert.equal(merged.totalHits, 2);
  });

  it('filters by package type, case-insensitively; no declared types means Dependency', () => {
    const tool = hit('dotnet-foo', ['1.0.0'], { packageTypes: [{ name: 'DotnetTool' }] });
    const lib = hit('Foo.Lib', ['1.0.0']);
    const bare = hit('Bare', ['1.0.0'], { packageTypes: undefined });
    const results = [{ upstream: 'internal', totalHits: 3, data: [tool, lib, bare] }];
    assert.deepEqual(ids(mergeSearch(results, params({ packageType: 'dotnettool' }), ALL).data), ['dotnet-foo']);
    assert.deepEqual(ids(mergeSearch(results, params({ packageType: 'Dependency' }), ALL).data), ['Foo.Lib', 'Bare']);
    assert.deepEqual(ids(mergeSearch(results, params({ packageType: 'Unknown' }), ALL).data), []);
    assert.equal(mergeSearch(results, params({ packageType: 'Unknown' }), ALL).totalHits, 0);
    assert.equal(mergeSearch(results, params(), ALL).data.length, 3);
  });

  it('version honours the prerelease and SemVer2 filters', () => {
    const results = [
      { upstream: 'internal', totalHits: 1, data: [hit('A', ['1.0.0', '2.0.0-beta'])] },
      { upstream: 'nuget.org', totalHits: 2, data: [hit('a', ['1.5.0', '3.0.0-rc.1']), hit('OnlyPre', ['1.0.0-alpha'])] },
    ];
    const stable = mergeSearch(results, params(), ALL);
    assert.equal(stable.data[0]?.['version'], '1.5.0');
    assert.deepEqual(ids(stable.data), ['A'], 'a package with prerelease versions only is dropped');
    assert.equal(mergeSearch(results, params({ prerelease: true }), ALL).data[0]?.['version'], '2.0.0-beta');
    assert.equal(mergeSearch(results, params({ prerelease: true, semVerLevel: '2.0.0' }), ALL).data[0]?.['version'], '3.0.0-rc.1');
  });

  it('three consecutive pages over two upstreams with overlapping ids neither repeat nor drop an id', () => {
    const internalFull: Json[] = [];
    const nugetFull: Json[] = [];
    for (let i = 0; i < 45; i++) internalFull.push(hit(`Pkg${i * 2}`, ['1.0.0']));
    // nuget.org holds every id (some with other case) plus its own; overlaps land at different ranks.
    for (let i = 0; i < 70; i++) nugetFull.push(hit(i % 3 === 0 ? `PKG${i}` : `Pkg${i}`, ['2.0.0']));
    const all = [...new Set([...internalFull, ...nugetFull].map((h) => (h['id'] as string).toLowerCase()))];

    const seen: string[] = [];
    const reference = mergeSearch(
      [
        { upstream: 'internal', totalHits: 45, data: internalFull },
        { upstream: 'nuget.org', totalHits: 70, data: nugetFull },
      ],
      params({ skip: 0, take: 1000 }),
      ALL,
    );
    for (let page = 0; page < 3; page++) {
      const p = params({ skip: page * 20, take: 20 });
      const merged = mergeSearch([answer('internal', internalFull, p), answer('nuget.org', nugetFull, p)], p, ALL);
      assert.equal(merged.data.length, 20);
      assert.ok(merged.totalHits >= p.skip + merged.data.length, 'totalHits never contradicts the data');
      seen.push(...ids(merged.data).map((id) => id.toLowerCase()));
    }
    assert.equal(new Set(seen).size, 60, 'no id repeated across pages');
    assert.deepEqual(seen, ids(reference.data).slice(0, 60).map((id) => id.toLowerCase()), 'pages are slices of one ordering');
    assert.equal(reference.totalHits, all.length, 'exact when every upstream returned all its hits');
  });

  it('paging stays stable when the mapping filters hits out of both upstreams', () => {
    const mapping = compileMapping({ internal: ['Contoso.*'], 'nuget.org': ['*'] }, ALL());
    // internal also returns public ids it must not serve; nuget.org returns look-alikes of private ids.
    const internalFull = Array.from({ length: 60 }, (_, i) => hit(i % 4 !== 0 ? `Public${i}` : `Contoso.P${i}`, ['1.0.0']));
    const nugetFull = Array.from({ length: 80 }, (_, i) => hit(i % 5 === 0 ? `Contoso.P${i}` : `Public${i}`, ['1.0.0']));
    const reference = mergeSearch(
      [
        { upstream: 'internal', totalHits: 60, data: internalFull },
        { upstream: 'nuget.org', totalHits: 80, data: nugetFull },
      ],
      params({ take: 1000 }),
      mapping.eligible,
    );
    const seen: string[] = [];
    for (let page = 0; page < 3; page++) {
      const p = params({ skip: page * 20, take: 20 });
      const merged = mergeSearch([answer('internal', internalFull, p), answer('nuget.org', nugetFull, p)], p, mapping.eligible);
      assert.equal(merged.data.length, 20);
      seen.push(...ids(merged.data));
    }
    assert.deepEqual(seen, ids(reference.data).slice(0, 60));
    // nuget.org's Contoso.P5, Contoso.P10, ... have no internal counterpart: they must not surface at all.
    const internalIds = new Set(internalFull.map((h) => h['id']));
    for (const id of ids(reference.data)) {
      if (id.startsWith('Contoso.')) assert.ok(internalIds.has(id), `${id} only from internal`);
    }
    assert.ok(ids(reference.data).includes('Contoso.P20'));
    assert.ok(!ids(reference.data).includes('Contoso.P5'));
  });

  it('totalHits is exact when complete and an estimate at least skip + data.length otherwise', () => {
    const a = Array.from({ length: 30 }, (_, i) => hit(`A${i}`, ['1.0.0']));
    const b = Array.from({ length: 30 }, (_, i) => hit(i < 10 ? `A${i}` : `B${i}`, ['1.0.0']));
    const p = params({ skip: 0, take: 10 });
    const partial = mergeSearch([answer('internal', a, p), answer('nuget.org', b, p)], p, ALL);
    assert.equal(partial.data.length, 10);
    // 10 merged (A0..A9, each seen twice) + 20 + 20 not yet returned: an upper estimate.
    assert.equal(partial.totalHits, 50);

    const p2 = params({ skip: 40, take: 20 });
    const last = mergeSearch([answer('internal', a, p2), answer('nuget.org', b, p2)], p2, ALL);
    assert.equal(last.totalHits, 50, 'exact: 30 + 30 - 10 shared');
    assert.equal(last.data.length, 10);

    const beyond = mergeSearch([answer('internal', a, params({ skip: 100 }))], params({ skip: 100 }), ALL);
    assert.deepEqual(beyond.data, []);
    assert.equal(beyond.totalHits, 30);
  });

  it('take=0 returns no data but a total', () => {
    const a = Array.from({ length: 5 }, (_, i) => hit(`A${i}`, ['1.0.0']));
    const merged = mergeSearch([{ upstream: 'internal', totalHits: 5, data: [] }], params({ take: 0 }), ALL);
    assert.deepEqual(merged.data, []);
    assert.equal(merged.totalHits, 5);
    assert.equal(a.length, 5);
  });

  it('tolerates malformed upstream items and leaves inputs untouched', () => {
    const item = hit('X', ['1.0.0']);
    const before = JSON.stringify(item);
    const merged = mergeSearch(
      [{ upstream: 'internal', totalHits: 4, data: [null as unknown as Json, { version: '1.0.0' }, item, { id: 'NoVersions' }] }],
      params(),
      ALL,
    );
    assert.deepEqual(ids(merged.data), ['X', 'NoVersions']);
    assert.equal(JSON.stringify(item), before);
  });
});

describe('autocomplete', () => {
  it('merges ids by rank with mapping and case-insensitive dedupe, then pages', () => {
    const mapping = compileMapping({ internal: ['Contoso.*'], 'nuget.org': ['*'] }, ALL());
    const results = [
      { upstream: 'internal', totalHits: 3, data: ['Contoso.A', 'Contoso.B', 'Newtonsoft.Json'] },
      { upstream: 'nuget.org', totalHits: 3, data: ['contoso.a', 'newtonsoft.json', 'Serilog'] },
    ];
    const merged = mergeAutocompleteIds(results, 0, 20, mapping.eligible);
    // rank 0: Contoso.A (nuget.org's contoso.a is not eligible); rank 1: Contoso.B, newtonsoft.json;
    // rank 2: internal's Newtonsoft.Json is not eligible from internal, Serilog.
    assert.deepEqual(merged.data, ['Contoso.A', 'Contoso.B', 'newtonsoft.json', 'Serilog']);
    assert.equal(merged.totalHits, 4);
    assert.deepEqual(mergeAutocompleteIds(results, 1, 2, mapping.eligible).data, ['Contoso.B', 'newtonsoft.json']);
  });

  it('unites version lists by normalized version, ascending', () => {
    assert.deepEqual(mergeAutocompleteVersions([['1.0.0', '2.0.0-Beta', '10.0.0'], ['2.0.0-beta', '1.0', '3.0.0+sha', 'junk'], []]).data, [
      '1.0.0',
      '2.0.0-Beta',
      '3.0.0+sha',
      '10.0.0',
    ]);
  });
});
