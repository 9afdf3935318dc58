import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localSearch, localAutocompleteIds, type LocalPackage } from '../../../src/merge/local-search.ts';
import { parseSearchParams } from '../../../src/merge/search.ts';
import { FEED_SENTINEL } from '../../../src/feed-urls.ts';

const pkgs: LocalPackage[] = [
  { id: 'newtonsoft.json', displayId: 'newtonsoft.json', upstream: 'pub', versions: [{ version: '12.0.1', listed: true }, { version: '13.0.3', listed: true }, { version: '14.0.0-beta.1', listed: true }] },
  {
    id: 'contoso.json.tools',
    displayId: 'Contoso.Json.Tools',
    upstream: 'priv',
    versions: [{ version: '1.0.0', listed: true, entry: { id: 'Contoso.Json.Tools', version: '1.0.0', description: 'Tools for JSON', packageTypes: [{ name: 'DotnetTool' }] } }],
  },
  { id: 'hidden.pkg', displayId: 'Hidden.Pkg', upstream: 'pub', versions: [{ version: '1.0.0', listed: false }] },
  { id: 'contoso.json.tools', displayId: 'contoso.json.tools', upstream: 'pub', versions: [{ version: '9.0.0', listed: true }] },
];
const everyone = (): string[] => ['priv', 'pub'];
const mapped = (id: string): string[] => (id.startsWith('contoso.') ? ['priv'] : ['pub']);

test('ranks exact id, then prefix, then substring; hides unlisted and prereleases by default', () => {
  const r = localSearch(pkgs, parseSearchParams({ q: 'json' }), everyone);
  // Both contain "json" (same rank): ties sort by id.
  assert.deepEqual(r.data.map((d) => d.id), ['Contoso.Json.Tools', 'newtonsoft.json']);
  assert.equal(r.totalHits, 2);
  assert.deepEqual(localSearch(pkgs, parseSearchParams({ q: 'newtonsoft.json' }), everyone).data.map((d) => d.id), ['newtonsoft.json']);
  const nj = r.data[1];
  assert.equal(nj?.version, '13.0.3');
  assert.equal(nj?.registration, `${FEED_SENTINEL}registration/newtonsoft.json/index.json`);
  const pre = localSearch(pkgs, parseSearchParams({ q: 'newtonsoft', prerelease: 'true', semVerLevel: '2.0.0' }), everyone);
  assert.equal(pre.data[0]?.version, '14.0.0-beta.1');
  assert.equal(localSearch(pkgs, parseSearchParams({ q: 'hidden' }), everyone).data.length, 0);
});

test('the source mapping decides which upstream copy of an id may appear', () => {
  const r = localSearch(pkgs, parseSearchParams({ q: 'contoso' }), mapped);
  assert.deepEqual(r.data.map((d) => `${String(d.id)} ${String(d.version)}`), ['Contoso.Json.Tools 1.0.0']);
});

test('packageType, skip/take, description matches and autocomplete', () => {
  assert.deepEqual(localSearch(pkgs, parseSearchParams({ q: '', packageType: 'DotnetTool' }), everyone).data.map((d) => d.id), ['Contoso.Json.Tools']);
  assert.deepEqual(localSearch(pkgs, parseSearchParams({ q: 'tools for' }), mapped).data.map((d) => d.id), ['Contoso.Json.Tools']);
  const paged = localSearch(pkgs, parseSearchParams({ q: '', skip: '1', take: '1' }), everyone);
  assert.equal(paged.data.length, 1);
  assert.equal(paged.totalHits, 2);
  assert.deepEqual(localAutocompleteIds(pkgs, parseSearchParams({ q: 'new' }), everyone).data, ['newtonsoft.json']);
});

test('a package is described by the newest version nugate has metadata for, while its version stays the newest listed', () => {
  const held: LocalPackage[] = [
    {
      id: 'serilog',
      displayId: 'serilog',
      upstream: 'pub',
      versions: [
        { version: '4.0.0', listed: true, entry: { id: 'Serilog', version: '4.0.0', description: 'Simple .NET logging', authors: 'Serilog Contributors' } },
        { version: '4.1.0', listed: true },
      ],
    },
  ];
  const [hit] = localSearch(held, parseSearchParams({ q: 'logging' }), () => ['pub']).data;
  assert.equal(hit?.version, '4.1.0');
  assert.equal(hit?.description, 'Simple .NET logging');
  assert.equal(hit?.id, 'Serilog');
  assert.deepEqual(localAutocompleteIds(held, parseSearchParams({ q: 'seri' }), () => ['pub']).data, ['Serilog']);
});
