import { readFileSync } from 'node:fs';
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRewrite, findLeaks, rewriteJsonInPlace, rewriteUrl, type RewriteTable } from '../../../src/nuget/rewrite.ts';
import { parseServiceIndex } from '../../../src/nuget/service-index.ts';

function text(path: string): string {
  return readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), 'utf8');
}
function json(path: string): unknown {
  return JSON.parse(text(path));
}

/** Looks a value up by path, for readable assertions on rewritten documents. */
function at(value: unknown, ...path: Array<string | number>): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

const P = 'https://proxy.test/v3/';

const NUGET_ORIGINS = ['https://api.nuget.org', 'https://azuresearch-usnc.nuget.org', 'https://azuresearch-ussc.nuget.org'];
// Deliberately listed shortest-first: compileRewrite must order them.
const nugetTable = compileRewrite([
  { from: 'https://api.nuget.org/v3-flatcontainer/', to: `${P}flatcontainer/` },
  { from: 'https://api.nuget.org/v3/catalog0/', to: `${P}raw/nuget/catalog/` },
  { from: 'https://api.nuget.org/v3/registration5-semver1/', to: `${P}registration-semver1/` },
  { from: 'https://api.nuget.org/v3/registration5-gz-semver1/', to: `${P}registration-semver1/` },
  { from: 'https://api.nuget.org/v3/registration5-gz-semver2/', to: `${P}registration/` },
  { from: 'https://azuresearch-usnc.nuget.org/query', to: `${P}search` },
  { from: 'https://azuresearch-ussc.nuget.org/query', to: `${P}search` },
  { from: 'https://azuresearch-usnc.nuget.org/autocomplete', to: `${P}autocomplete` },
  { from: 'https://azuresearch-ussc.nuget.org/autocomplete', to: `${P}autocomplete` },
]);

const githubTable = compileRewrite([
  { from: 'https://nuget.pkg.github.com/fabrikam/', to: `${P}registration/` },
  { from: 'https://nuget.pkg.github.com/fabrikam/query', to: `${P}search` },
  { from: 'https://nuget.pkg.github.com/fabrikam/download/', to: `${P}flatcontainer/` },
]);

const AZ = 'https://pkgs.dev.azure.com/contoso/3f2a9c41-7b0e-4d6a-9e55-0c1d2b8a4f10/_packaging/b7d1e2f0-5a4c-4c39-8e21-6f9a0d3c5e72/nuget/v3/';
const azureTable = compileRewrite([
  { from: `${AZ}flat2/`, to: `${P}flatcontainer/` },
  { from: `${AZ}registrations2/`, to: `${P}registration-semver1/` },
  { from: `${AZ}registrations2-semver2/`, to: `${P}registration/` },
  { from: `${AZ}query2/`, to: `${P}search` },
]);

describe('rewriteUrl', () => {
  const table = compileRewrite([
    { from: 'https://up.example/v3-flatcontainer/', to: 'https://proxy.test/v3/flatcontainer/' },
    { from: 'https://up.example/v3/', to: 'https://proxy.test/v3/raw/' },
    { from: 'https://up.example/v3/registration/', to: 'https://proxy.test/v3/registration/' },
    { from: 'https://up.example/query', to: 'https://proxy.test/v3/search' },
  ]);

  it('swaps the prefix and keeps the rest', () => {
    assert.equal(rewriteUrl('https://up.example/v3-flatcontainer/a.b/1.0.0/a.b.1.0.0.nupkg', table), 'https://proxy.test/v3/flatcontainer/a.b/1.0.0/a.b.1.0.0.nupkg');
  });

  it('tries the longest from first, whatever the input order', () => {
    assert.equal(rewriteUrl('https://up.example/v3/registration/a/index.json', table), 'https://proxy.test/v3/registration/a/index.json');
    assert.equal(rewriteUrl('https://up.example/v3/other/x.json', table), 'https://proxy.test/v3/raw/other/x.json');
    const lengths = table.rules.map((r) => r.from.length);
    assert.deepEqual(lengths, [...lengths].sort((a, b) => b - a));
    assert.equal(table.rules.at(-1)?.from, 'https://up.example/v3/');
  });

  it('keeps query and fragment', () => {
    assert.equal(rewriteUrl('https://up.example/v3/registration/a/index.json#page/1.0.0/2.0.0', table), 'https://proxy.test/v3/registration/a/index.json#page/1.0.0/2.0.0');
    assert.equal(rewriteUrl('https://up.example/query?q=json&take=5', table), 'https://proxy.test/v3/search?q=json&take=5');
  });

  it('compares scheme and host case-insensitively, the path case-sensitively', () => {
    assert.equal(rewriteUrl('HTTPS://Up.Example/v3-flatcontainer/a/index.json', table), 'https://proxy.test/v3/flatcontainer/a/index.json');
    assert.equal(rewriteUrl('https://up.example:443/v3-flatcontainer/a/index.json', table), 'https://proxy.test/v3/flatcontainer/a/index.json');
    assert.equal(rewriteUrl('https://up.example/V3-FLATCONTAINER/a/index.json', table), 'https://up.example/V3-FLATCONTAINER/a/index.json');
    assert.equal(rewriteUrl('http://up.example/v3-flatcontainer/a/index.json', table), 'http://up.example/v3-flatcontainer/a/index.json');
    assert.equal(rewriteUrl('https://up.example:8443/v3-flatcontainer/a', table), 'https://up.example:8443/v3-flatcontainer/a');
  });

  it('matches a directory from without its trailing slash exactly, and nothing longer', () => {
    assert.equal(rewriteUrl('https://up.example/v3-flatcontainer', table), 'https://proxy.test/v3/flatcontainer');
    assert.equal(rewriteUrl('https://up.example/v3-flatcontainer?x=1', table), 'https://proxy.test/v3/flatcontainer?x=1');
    assert.equal(rewriteUrl('https://up.example/v3-flatcontainerx/a', table), 'https://up.example/v3-flatcontainerx/a');
    assert.equal(rewriteUrl('https://up.example/v3-flat', table), 'https://up.example/v3-flat');
  });

  it('leaves non-matching and non-http strings alone', () => {
    for (const s of ['https://elsewhere.example/v3/x', 'urn:uuid:1d2c3b4a-0000-4000-8000-00000000abcd', '/v3/relative', 'up.example/v3/x', '', 'https://']) {
      assert.equal(rewriteUrl(s, table), s);
    }
  });

  it('rejects a rule whose from is not an absolute http(s) URL', () => {
    assert.throws(() => compileRewrite([{ from: '/v3/', to: P }]), /rules\[0\]\.from/);
    assert.throws(() => compileRewrite([{ from: 'https://a/', to: P }, { from: 'urn:x', to: P }]), /rules\[1\]\.from/);
    assert.throws(() => compileRewrite([{ from: 'https://a/', to: '' }]), /rules\[0\]\.to/);
  });

  it('accepts a hand-built table and still orders it', () => {
    const hand: RewriteTable = { rules: [{ from: 'https://h/a/', to: 'https://p/1/' }, { from: 'https://h/a/b/', to: 'https://p/2/' }] };
    assert.equal(rewriteUrl('https://h/a/b/c', hand), 'https://p/2/c');
  });
});

describe('rewriteJsonInPlace on nuget.org registration (inlined)', () => {
  const input = json('registration/nuget-inlined.json');
  const before = structuredClone(input);
  const out = rewriteJsonInPlace(structuredClone(input), nugetTable);
  const leaf = (page: number, item: number, ...rest: Array<string | number>): unknown => at(out, 'items', page, 'items', item, ...rest);

  it('leaves no API origin behind', () => {
    // The check can fail: the fixture itself is full of them.
    assert.ok(findLeaks(text('registration/nuget-inlined.json'), NUGET_ORIGINS).length > 20);
    assert.deepEqual(findLeaks(JSON.stringify(out), NUGET_ORIGINS), []);
  });

  it('rewrites every URL the client follows, keeping #page fragments', () => {
    assert.equal(at(out, '@id'), `${P}registration/contoso.widgets/index.json`);
    assert.equal(at(out, 'items', 0, '@id'), `${P}registration/contoso.widgets/index.json#page/1.0.0/1.2.0`);
    assert.equal(at(out, 'items', 1, '@id'), `${P}registration/contoso.widgets/index.json#page/2.0.0-beta.1/2.0.0`);
    assert.equal(at(out, 'items', 1, 'parent'), `${P}registration/contoso.widgets/index.json`);
    assert.equal(leaf(0, 0, '@id'), `${P}registration/contoso.widgets/1.0.0.json`);
    assert.equal(leaf(0, 0, 'packageContent'), `${P}flatcontainer/contoso.widgets/1.0.0/contoso.widgets.1.0.0.nupkg`);
    assert.equal(leaf(0, 0, 'registration'), `${P}registration/contoso.widgets/index.json`);
    assert.equal(leaf(0, 0, 'catalogEntry', '@id'), `${P}raw/nuget/catalog/data/2023.04.11.08.15.02/contoso.widgets.1.0.0.json`);
    assert.equal(leaf(0, 0, 'catalogEntry', 'iconUrl'), `${P}flatcontainer/contoso.widgets/1.0.0/icon`);
    assert.equal(leaf(0, 0, 'catalogEntry', 'dependencyGroups', 0, 'dependencies', 0, 'registration'), `${P}registration/contoso.core/index.json`);
    assert.equal(
      leaf(0, 0, 'catalogEntry', 'dependencyGroups', 0, 'dependencies', 0, '@id'),
      `${P}raw/nuget/catalog/data/2023.04.11.08.15.02/contoso.widgets.1.0.0.json#dependencygroup/.netstandard2.0/contoso.core`,
    );
  });

  it('passes data, browser links, @type arrays and unknown fields through unchanged', () => {
    assert.deepEqual(at(out, '@type'), ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink']);
    assert.deepEqual(at(out, '@context'), at(before, '@context'));
    assert.equal(leaf(0, 1, 'catalogEntry', 'listed'), false);
    assert.equal(leaf(0, 1, 'catalogEntry', 'published'), '1900-01-01T00:00:00+00:00');
    assert.equal(leaf(1, 1, 'catalogEntry', 'version'), '2.0.0+sha.5f3e9d1');
    assert.deepEqual(leaf(0, 0, 'catalogEntry', 'deprecation', 'reasons'), ['CriticalBugs', 'Other']);
    assert.equal(leaf(0, 0, 'catalogEntry', 'vulnerabilities', 0, 'advisoryUrl'), 'https://github.com/advisories/GHSA-q7w2-8x4m-c3vp');
    assert.equal(leaf(0, 0, 'catalogEntry', 'vulnerabilities', 0, 'severity'), '2');
    assert.equal(leaf(0, 0, 'catalogEntry', 'licenseUrl'), 'https://www.nuget.org/packages/Contoso.Widgets/1.0.0/license');
    assert.deepEqual(leaf(0, 2, 'catalogEntry', 'x-contoso-buildInfo'), { pipeline: 4411, signed: true, notes: null, mirrors: [] });
    assert.equal(leaf(0, 2, 'catalogEntry', 'requireLicenseAcceptance'), false);
  });

  it('differs from the input only in rewritten strings', () => {
    const expected = JSON.parse(text('registration/nuget-inlined.json').replaceAll('https://api.nuget.org/v3/registration5-gz-semver2/', `${P}registration/`)
      .replaceAll('https://api.nuget.org/v3-flatcontainer/', `${P}flatcontainer/`)
      .replaceAll('https://api.nuget.org/v3/catalog0/', `${P}raw/nuget/catalog/`)) as unknown;
    assert.deepEqual(out, expected);
  });

});

describe('rewriteJsonInPlace on nuget.org registration (paged)', () => {
  it('rewrites page @ids of a non-inlined index', () => {
    const out = rewriteJsonInPlace(json('registration/nuget-paged-index.json'), nugetTable);
    assert.equal(at(out, 'items', 0, '@id'), `${P}registration/contoso.platform/page/1.0.0/1.1.0.json`);
    assert.equal(at(out, 'items', 1, '@id'), `${P}registration/contoso.platform/page/1.2.0/3.0.0-rc.1.json`);
    assert.equal(at(out, 'items', 0, 'items'), undefined);
    assert.deepEqual(findLeaks(JSON.stringify(out), NUGET_ORIGINS), []);
  });

  it('rewrites a page document', () => {
    const out = rewriteJsonInPlace(json('registration/nuget-paged-page1.json'), nugetTable);
    assert.equal(at(out, '@id'), `${P}registration/contoso.platform/page/1.0.0/1.1.0.json`);
    assert.equal(at(out, 'parent'), `${P}registration/contoso.platform/index.json`);
    assert.equal(at(out, 'items', 2, 'packageContent'), `${P}flatcontainer/contoso.platform/1.1.0-preview1/contoso.platform.1.1.0-preview1.nupkg`);
    assert.equal(at(out, 'count'), 4);
    assert.deepEqual(findLeaks(JSON.stringify(out), NUGET_ORIGINS), []);
  });
});

describe('rewriteJsonInPlace on GitHub Packages registration', () => {
  const out = rewriteJsonInPlace(json('registration/github.json'), githubTable);

  it('is leak-free and picks the download rule over the owner rule', () => {
    assert.ok(findLeaks(text('registration/github.json'), ['https://nuget.pkg.github.com']).length > 0);
    assert.deepEqual(findLeaks(JSON.stringify(out), ['https://nuget.pkg.github.com']), []);
    assert.equal(at(out, 'items', 0, '@id'), `${P}registration/fabrikam.telemetry/index.json`);
    assert.equal(at(out, 'items', 0, 'items', 2, '@id'), `${P}registration/fabrikam.telemetry/1.1.0-preview.2.json`);
    assert.equal(
      at(out, 'items', 0, 'items', 2, 'packageContent'),
      `${P}flatcontainer/fabrikam.telemetry/1.1.0-preview.2/fabrikam.telemetry.1.1.0-preview.2.nupkg`,
    );
  });

  it('leaves github.com links and empty strings alone', () => {
    assert.equal(at(out, 'items', 0, 'items', 0, 'catalogEntry', 'projectUrl'), 'https://github.com/fabrikam/telemetry');
    assert.equal(at(out, 'items', 0, 'items', 0, 'catalogEntry', 'iconUrl'), '');
  });
});

describe('rewriteJsonInPlace on Azure Artifacts registration', () => {
  const input = json('registration/azure.json');
  const out = rewriteJsonInPlace(structuredClone(input), azureTable);

  it('is leak-free', () => {
    assert.ok(findLeaks(text('registration/azure.json'), ['https://pkgs.dev.azure.com']).length > 0);
    assert.deepEqual(findLeaks(JSON.stringify(out), ['https://pkgs.dev.azure.com']), []);
    assert.equal(at(out, 'items', 0, '@id'), `${P}registration/contoso.billing/index.json#page/1.0.0/1.3.0-hotfix.1`);
    assert.equal(at(out, 'items', 0, 'items', 0, 'packageContent'), `${P}flatcontainer/contoso.billing/1.0.0/contoso.billing.1.0.0.nupkg`);
  });

  it('keeps urn:uuid: ids and @type arrays (even ones holding URLs) untouched', () => {
    assert.equal(at(out, 'items', 0, 'items', 1, 'catalogEntry', '@id'), 'urn:uuid:5c0d8e7b-2a14-4f96-9b3e-d81f6a0c4e25');
    assert.equal(
      at(out, 'items', 0, 'items', 1, 'catalogEntry', 'dependencyGroups', 0, '@id'),
      'urn:uuid:5c0d8e7b-2a14-4f96-9b3e-d81f6a0c4e25#dependencygroup/net8.0',
    );
    assert.deepEqual(at(out, 'feed'), { '@id': 'urn:uuid:b7d1e2f0-5a4c-4c39-8e21-6f9a0d3c5e72', label: 'contoso-internal' });
    assert.deepEqual(at(out, 'items', 0, 'items', 0, '@type'), ['Package', 'http://schema.nuget.org/catalog#Permalink']);
  });
});

describe('rewriteJsonInPlace on nuget.org search', () => {
  const raw = text('search/nuget.json');
  const out = rewriteJsonInPlace(JSON.parse(raw) as unknown, nugetTable);
  const serialised = JSON.stringify(out);

  it('rewrites registration, versions[].@id, iconUrl and the @context @base; leak-free', () => {
    assert.equal(at(out, 'data', 0, 'registration'), `${P}registration/contoso.widgets/index.json`);
    assert.equal(at(out, 'data', 0, 'versions', 2, '@id'), `${P}registration/contoso.widgets/2.0.0-beta.1.json`);
    assert.equal(at(out, 'data', 0, 'iconUrl'), `${P}flatcontainer/contoso.widgets/2.0.0/icon`);
    assert.equal(at(out, '@context', '@base'), `${P}registration/`);
    assert.deepEqual(findLeaks(serialised, NUGET_ORIGINS), []);
  });

  it('keeps int64 download counts exact through parse → rewrite → stringify', () => {
    assert.equal(at(out, 'data', 0, 'totalDownloads'), 2147483657);
    assert.equal(at(out, 'data', 0, 'versions', 0, 'downloads'), 2147483650);
    assert.equal(at(out, 'data', 1, 'totalDownloads'), Number.MAX_SAFE_INTEGER);
    assert.ok(serialised.includes('"totalDownloads":2147483657'));
    assert.ok(serialised.includes('"totalDownloads":9007199254740991'));
    assert.ok(serialised.includes('"downloads":9007199254740991'));
    assert.equal(at(out, 'data', 1, 'versions', 0, 'downloads'), 9007199254740991);
  });

  it('leaves numbers, booleans and the packageTypes objects alone', () => {
    assert.equal(at(out, 'totalHits'), 2);
    assert.equal(at(out, 'data', 0, 'verified'), true);
    assert.deepEqual(at(out, 'data', 1, 'packageTypes'), [{ name: 'DotnetTool' }]);
    assert.equal(at(out, 'data', 0, 'vulnerabilities', 0, 'severity'), 2);
  });
});

describe('rewriteJsonInPlace edge cases', () => {
  const table = compileRewrite([{ from: 'https://up.example/', to: 'https://proxy.test/v3/' }]);

  it('rewrites values, never keys', () => {
    const out = rewriteJsonInPlace({ 'https://up.example/key': 'https://up.example/value' }, table);
    assert.deepEqual(out, { 'https://up.example/key': 'https://proxy.test/v3/value' });
  });

  it('handles primitives and null at the root', () => {
    assert.equal(rewriteJsonInPlace('https://up.example/a', table), 'https://proxy.test/v3/a');
    assert.equal(rewriteJsonInPlace(5, table), 5);
    assert.equal(rewriteJsonInPlace(null, table), null);
    assert.equal(rewriteJsonInPlace(true, table), true);
  });

  it('keeps a "__proto__" JSON key as an own property instead of changing the prototype', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "https://up.example/x"}, "a": 1}') as Record<string, unknown>;
    const out = rewriteJsonInPlace(input, table);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.ok(Object.hasOwn(out, '__proto__'));
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: 'https://proxy.test/v3/x' });
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('does not overflow the stack on deeply nested input', () => {
    let deep: unknown = 'https://up.example/bottom';
    for (let i = 0; i < 200_000; i++) deep = i % 2 === 0 ? [deep] : { n: deep };
    let out = rewriteJsonInPlace(deep, table);
    for (let i = 0; i < 200_000; i++) out = Array.isArray(out) ? out[0] : (out as { n: unknown }).n;
    assert.equal(out, 'https://proxy.test/v3/bottom');
  });
});

describe('findLeaks', () => {
  it('finds every occurrence, case-insensitively, with context', () => {
    const body = '{"a":"https://API.nuget.org/v3-flatcontainer/x","b":"https://api.nuget.org/v3/y","c":"https://proxy.test/v3/"}';
    const leaks = findLeaks(body, ['https://api.nuget.org']);
    assert.equal(leaks.length, 2);
    assert.ok(leaks[0]?.includes('https://API.nuget.org/v3-flatcontainer/x'));
    assert.ok(leaks[1]?.includes('"b":"https://api.nuget.org/v3/y'));
  });

  it('returns [] when clean or when no origin is given', () => {
    assert.deepEqual(findLeaks('{"a":"https://proxy.test/v3/"}', ['https://api.nuget.org']), []);
    assert.deepEqual(findLeaks('https://api.nuget.org', []), []);
    assert.deepEqual(findLeaks('https://api.nuget.org', ['']), []);
  });

  it('treats origins literally, not as patterns', () => {
    assert.deepEqual(findLeaks('https://apixnuget.org/', ['https://api.nuget.org']), []);
  });
});

describe('upstream bases as an allow-list', () => {
  /** Every string in a JSON document that is an absolute URL on one of the given origins. */
  function urlsOn(value: unknown, origins: string[]): string[] {
    const found: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') {
        if (origins.some((o) => v.toLowerCase().startsWith(`${o}/`))) found.push(v);
      } else if (Array.isArray(v)) {
        v.forEach(walk);
      } else if (typeof v === 'object' && v !== null) {
        Object.values(v).forEach(walk);
      }
    };
    walk(value);
    return found;
  }

  it('nuget.org bases cover every API URL in the nuget.org registration and search fixtures', () => {
    const { bases } = parseServiceIndex(json('serviceindex/nuget.org.json'));
    for (const file of ['registration/nuget-inlined.json', 'registration/nuget-paged-index.json', 'registration/nuget-paged-page1.json', 'search/nuget.json']) {
      const urls = urlsOn(json(file), NUGET_ORIGINS);
      assert.ok(urls.length > 0, file);
      for (const url of urls) assert.ok(bases.some((b) => url.startsWith(b)), `${file}: ${url}`);
    }
  });

  it('GitHub and Azure bases cover every upstream URL in their registration fixtures', () => {
    const cases: Array<[string, string, string]> = [
      ['serviceindex/github.json', 'registration/github.json', 'https://nuget.pkg.github.com'],
      ['serviceindex/azure.json', 'registration/azure.json', 'https://pkgs.dev.azure.com'],
    ];
    for (const [index, doc, origin] of cases) {
      const { bases } = parseServiceIndex(json(index));
      for (const url of urlsOn(json(doc), [origin])) assert.ok(bases.some((b) => url.startsWith(b)), `${doc}: ${url}`);
    }
  });
});

test('rewriteJsonInPlace rewrites every string value where it stands and returns the same value', () => {
  const table = compileRewrite([{ from: 'https://api.nuget.org/v3-flatcontainer/', to: 'https://proxy.test/v3/flatcontainer/' }]);
  const doc = JSON.parse('{"a":"https://api.nuget.org/v3-flatcontainer/x/index.json","__proto__":"https://api.nuget.org/v3-flatcontainer/p","list":[{"u":"https://API.nuget.org/v3-flatcontainer/y"},"urn:uuid:1",3,null],"https://api.nuget.org/v3-flatcontainer/key":1}') as Record<string, unknown>;
  const out = rewriteJsonInPlace(doc, table);
  assert.equal(out, doc);
  assert.equal(doc.a, 'https://proxy.test/v3/flatcontainer/x/index.json');
  assert.equal(Object.getOwnPropertyDescriptor(doc, '__proto__')?.value, 'https://proxy.test/v3/flatcontainer/p');
  assert.equal(Object.getPrototypeOf(doc), Object.prototype);
  assert.deepEqual(doc.list, [{ u: 'https://proxy.test/v3/flatcontainer/y' }, 'urn:uuid:1', 3, null]);
  assert.ok('https://api.nuget.org/v3-flatcontainer/key' in doc, 'keys are never rewritten');
});
