import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildServiceIndex,
  feedUrls,
  InvalidServiceIndexError,
  parseServiceIndex,
  type ServiceIndexEntry,
} from '../../../src/nuget/service-index.ts';
import { LOOKUP } from '../../../src/nuget/service-types.ts';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../fixtures/serviceindex/${name}`, import.meta.url), 'utf8'));
}

const typesOf = (e: ServiceIndexEntry): string[] => (Array.isArray(e['@type']) ? e['@type'] : [e['@type']]);

describe('parseServiceIndex: nuget.org', () => {
  const r = parseServiceIndex(fixture('nuget.org.json'));

  it('picks the flat container and both registration hives', () => {
    assert.equal(r.packageBaseAddress, 'https://api.nuget.org/v3-flatcontainer/');
    assert.equal(r.registrationSemVer2, 'https://api.nuget.org/v3/registration5-gz-semver2/');
    // 3.4.0 (gzip, SemVer1) is preferred over the uncompressed bare/beta/rc hive.
    assert.equal(r.registrationSemVer1, 'https://api.nuget.org/v3/registration5-gz-semver1/');
  });

  it('lists every distinct search and autocomplete endpoint, primary first', () => {
    assert.deepEqual(r.search, ['https://azuresearch-usnc.nuget.org/query', 'https://azuresearch-ussc.nuget.org/query']);
    assert.deepEqual(r.autocomplete, [
      'https://azuresearch-usnc.nuget.org/autocomplete',
      'https://azuresearch-ussc.nuget.org/autocomplete',
    ]);
  });

  it('reads publish, symbols, vulnerabilities, catalog and the readme template', () => {
    assert.equal(r.packagePublish, 'https://www.nuget.org/api/v2/package/');
    assert.equal(r.symbolPackagePublish, 'https://www.nuget.org/api/v2/symbolpackage/');
    assert.equal(r.vulnerabilityInfo, 'https://api.nuget.org/v3/vulnerabilities/index.json');
    assert.equal(r.catalog, 'https://api.nuget.org/v3/catalog0/index.json');
    assert.equal(r.readmeTemplate, 'https://api.nuget.org/v3-flatcontainer/{lower_id}/{lower_version}/readme');
  });

  it('copies browser templates verbatim and drops the API display-metadata templates', () => {
    assert.deepEqual(r.browserTemplates, [
      {
        '@id': 'https://www.nuget.org/packages/{id}/{version}/ReportAbuse',
        '@type': 'ReportAbuseUriTemplate/3.0.0-rc',
        comment: 'Web page for reporting a package version (RC clients)',
      },
      {
        '@id': 'https://www.nuget.org/packages/{id}/{version}/ReportAbuse',
        '@type': 'ReportAbuseUriTemplate/3.0.0-beta',
        comment: 'Web page for reporting a package version',
      },
      {
        '@id': 'https://www.nuget.org/packages/{id}/{version}?_src=template',
        '@type': 'PackageDetailsUriTemplate/5.1.0',
        comment: 'Web page with the details of a package version',
      },
      {
        '@id': 'https://www.nuget.org/profiles/{owner}?_src=template',
        '@type': 'OwnerDetailsUriTemplate/6.11.0',
        comment: 'Web page of a package owner',
      },
    ]);
  });

  it('allows exactly the resource bases, with file-like @ids reduced to their directory', () => {
    assert.deepEqual(r.bases, [
      'https://api.nuget.org/v3-flatcontainer/',
      'https://api.nuget.org/v3/registration5-gz-semver2/',
      'https://api.nuget.org/v3/registration5-gz-semver1/',
      'https://azuresearch-usnc.nuget.org/query',
      'https://azuresearch-ussc.nuget.org/query',
      'https://azuresearch-usnc.nuget.org/autocomplete',
      'https://azuresearch-ussc.nuget.org/autocomplete',
      'https://www.nuget.org/api/v2/package/',
      'https://www.nuget.org/api/v2/symbolpackage/',
      'https://api.nuget.org/v3/catalog0/',
      // VulnerabilityInfo: origin + first segment, so /v3-vulnerabilities/{timestamp}/… pages are allowed.
      'https://api.nuget.org/v3',
    ]);
    assert.ok(r.bases.every((b) => !b.includes('{')));
    assert.ok('https://api.nuget.org/v3-vulnerabilities/2024.06.01.00.00.00/vulnerability.base.json'.startsWith(r.bases.at(-1) ?? '?'));
  });
});

describe('parseServiceIndex: GitHub Packages', () => {
  const r = parseServiceIndex(fixture('github.json'));

  it('uses the SemVer1-typed hive for the SemVer2 hive too (GitHub serves every version there)', () => {
    assert.equal(r.registrationSemVer2, 'https://nuget.pkg.github.com/fabrikam/');
    assert.equal(r.registrationSemVer1, 'https://nuget.pkg.github.com/fabrikam/');
  });

  it('adds the trailing slash the client adds, and keeps the publish URL equal to the registration one', () => {
    assert.equal(r.packageBaseAddress, 'https://nuget.pkg.github.com/fabrikam/download/');
    assert.equal(r.packagePublish, 'https://nuget.pkg.github.com/fabrikam/');
    assert.deepEqual(r.search, ['https://nuget.pkg.github.com/fabrikam/query']);
    assert.deepEqual(r.autocomplete, []);
    assert.equal(r.vulnerabilityInfo, undefined);
    assert.equal(r.catalog, undefined);
    assert.equal(r.symbolPackagePublish, undefined);
    assert.deepEqual(r.browserTemplates, []);
  });

  it('has deduplicated bases that do not match a sibling owner', () => {
    assert.deepEqual(r.bases, [
      'https://nuget.pkg.github.com/fabrikam/download/',
      'https://nuget.pkg.github.com/fabrikam/',
      'https://nuget.pkg.github.com/fabrikam/query',
    ]);
    assert.ok(!r.bases.some((b) => 'https://nuget.pkg.github.com/fabrikam-evil/x/index.json'.startsWith(b)));
  });
});

describe('parseServiceIndex: Azure Artifacts', () => {
  const feed = 'https://pkgs.dev.azure.com/contoso/3f2a9c41-7b0e-4d6a-9e55-0c1d2b8a4f10/_packaging/b7d1e2f0-5a4c-4c39-8e21-6f9a0d3c5e72/nuget/';

  it('reads @type arrays and array clientVersions', () => {
    const r = parseServiceIndex(fixture('azure.json'));
    assert.equal(r.registrationSemVer2, `${feed}v3/registrations2-semver2/`);
    assert.equal(r.registrationSemVer1, `${feed}v3/registrations2/`);
    assert.equal(r.packageBaseAddress, `${feed}v3/flat2/`);
    assert.deepEqual(r.search, [`${feed}v3/query2/`]);
    assert.equal(r.packagePublish, `${feed}v2/`);
  });

  it('skips urn:uuid: and com.visualstudio.feeds.feedview: @ids without crashing', () => {
    const r = parseServiceIndex(fixture('azure.json'));
    assert.ok(r.bases.length > 0);
    for (const b of r.bases) assert.match(b, /^https:\/\/pkgs\.dev\.azure\.com\/contoso\/3f2a9c41/);
    assert.ok(!JSON.stringify(r).includes('urn:'));
    assert.ok(!JSON.stringify(r).includes('feedview'));
    // VssBaseUrl is an http @id of an unknown type: not a resource, so not a base either.
    assert.ok(!r.bases.includes('https://pkgs.dev.azure.com/contoso/'));
  });
});

describe('parseServiceIndex: robustness', () => {
  it('never crashes on malformed entries and ignores what the client would ignore', () => {
    const r = parseServiceIndex({
      version: '3.0.0',
      resources: [
        null,
        42,
        'PackageBaseAddress/3.0.0',
        [],
        { '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 17, '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 'relative/flat/', '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 'ftp://files.example/flat/', '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 'https://up.example/{id}/flat/', '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 'https://up.example/typeless/', '@type': 7 },
        { '@id': 'https://up.example/typeless2/', '@type': [1, null, {}] },
        { '@id': 'https://up.example/flat/', '@type': ['Unknown/1.0', 'PackageBaseAddress/3.0.0'], clientVersion: { x: 1 } },
        { '@id': 'https://up.example/flat/', '@type': 'PackageBaseAddress/3.0.0' },
        { '@id': 'https://up.example/query?semVerLevel=2.0.0', '@type': 'SearchQueryService/3.0.0-beta' },
        { '@id': 'https://up.example/query', '@type': 'SearchQueryService' },
        { '@id': 'https://up.example/', '@type': 'PackagePublish/2.0.0' },
        { '@id': 'https://up.example/vuln.json', '@type': 'VulnerabilityInfo/6.7.0' },
        { '@id': 'urn:uuid:0b6e3c1a-0000-4000-8000-000000000001', '@type': 'VssFeedId' },
      ],
    });
    assert.equal(r.packageBaseAddress, 'https://up.example/flat/');
    // The client replaces the @id's query string, so it is dropped (and deduplicated).
    assert.deepEqual(r.search, ['https://up.example/query']);
    // An empty-path publish @id gets /api/v2/package/ appended by the client.
    assert.equal(r.packagePublish, 'https://up.example/api/v2/package/');
    assert.deepEqual(r.bases, ['https://up.example/flat/', 'https://up.example/query', 'https://up.example/api/v2/package/', 'https://up.example/']);
  });

  it('prefers the /Versioned entry with the highest clientVersion', () => {
    const r = parseServiceIndex({
      version: '3.0.0',
      resources: [
        { '@id': 'https://up.example/reg-old/', '@type': 'RegistrationsBaseUrl/Versioned' },
        { '@id': 'https://up.example/reg-new/', '@type': 'RegistrationsBaseUrl/Versioned', clientVersion: ['4.0.0', '4.3.0'] },
        // A prerelease sorts below its release; numeric parts compare as numbers.
        { '@id': 'https://up.example/reg-pre/', '@type': 'RegistrationsBaseUrl/Versioned', clientVersion: '4.3.0-alpha.9' },
        { '@id': 'https://up.example/reg-old2/', '@type': 'RegistrationsBaseUrl/Versioned', clientVersion: '4.2.99' },
        { '@id': 'https://up.example/reg-v1/', '@type': 'RegistrationsBaseUrl/3.0.0-rc' },
      ],
    });
    assert.equal(r.registrationSemVer2, 'https://up.example/reg-new/');
    assert.equal(r.registrationSemVer1, 'https://up.example/reg-v1/');
  });

  it('prefers 3.6.0 over /Versioned, and never takes a SemVer2 hive as the SemVer1 one', () => {
    const r = parseServiceIndex({
      version: '3.0.0',
      resources: [
        { '@id': 'https://up.example/versioned/', '@type': 'RegistrationsBaseUrl/Versioned' },
        { '@id': 'https://up.example/semver2', '@type': 'RegistrationsBaseUrl/3.6.0' },
      ],
    });
    assert.equal(r.registrationSemVer2, 'https://up.example/semver2/');
    assert.equal(r.registrationSemVer1, undefined);
  });

  it('accepts every SemVer version with major 3', () => {
    for (const version of ['3.0.0', '3.0.0-beta', '3.0.0-beta.1', '3.2.1', '3.0.0-rc.1+build.5']) {
      assert.doesNotThrow(() => parseServiceIndex({ version, resources: [] }), version);
    }
  });

  it('rejects documents the client rejects', () => {
    const bad: unknown[] = [
      null,
      [],
      'index',
      3,
      { resources: [] },
      { version: 3, resources: [] },
      { version: '2.0.0', resources: [] },
      { version: '4.0.0', resources: [] },
      { version: '3', resources: [] },
      { version: '3.0', resources: [] },
      { version: 'v3.0.0', resources: [] },
      { version: '03.0.0', resources: [] },
      { version: '3.0.0-', resources: [] },
      { version: '3.0.0' },
      { version: '3.0.0', resources: {} },
      { version: '3.0.0', resources: 'none' },
    ];
    for (const doc of bad) {
      assert.throws(
        () => parseServiceIndex(doc),
        (err: unknown) => err instanceof InvalidServiceIndexError && err.code === 'INVALID_SERVICE_INDEX',
        JSON.stringify(doc),
      );
    }
  });
});

describe('feedUrls', () => {
  it('lays out every resource under the feed base', () => {
    assert.deepEqual(feedUrls('https://nuget.example.com/v3/'), {
      index: 'https://nuget.example.com/v3/index.json',
      flat: 'https://nuget.example.com/v3/flatcontainer/',
      registration: 'https://nuget.example.com/v3/registration/',
      registrationSemVer1: 'https://nuget.example.com/v3/registration-semver1/',
      search: 'https://nuget.example.com/v3/search',
      autocomplete: 'https://nuget.example.com/v3/autocomplete',
      vulnerability: 'https://nuget.example.com/v3/vulnerabilities/index.json',
      publish: 'https://nuget.example.com/v3/package',
      symbolPublish: 'https://nuget.example.com/v3/symbolpackage',
      readmeTemplate: 'https://nuget.example.com/v3/flatcontainer/{lower_id}/{lower_version}/readme',
    });
    assert.equal(feedUrls('http://127.0.0.1:5000/upstreams/nuget.org/v3/').flat, 'http://127.0.0.1:5000/upstreams/nuget.org/v3/flatcontainer/');
  });

  it('rejects a base that is relative, lacks the trailing slash or carries a query', () => {
    for (const base of ['/v3/', 'https://nuget.example.com/v3', 'https://nuget.example.com/v3/?x=1', 'ftp://h/v3/']) {
      assert.throws(() => feedUrls(base), TypeError, base);
    }
  });
});

describe('buildServiceIndex', () => {
  const base = 'https://proxy.test/v3/';
  const urls = feedUrls(base);
  const templates = parseServiceIndex(fixture('nuget.org.json')).browserTemplates;
  const full = buildServiceIndex(urls, { publish: true, symbols: true, vulnerability: true, browserTemplates: templates });
  const entriesOf = (type: string, index = full): ServiceIndexEntry[] => index.resources.filter((e) => typesOf(e).includes(type));
  const idOf = (type: string, index = full): string => {
    const found = entriesOf(type, index);
    assert.equal(found.length, 1, `${type} advertised once`);
    return found[0]?.['@id'] ?? '';
  };

  it('is a version 3.0.0 document with an @context', () => {
    assert.equal(full.version, '3.0.0');
    assert.ok(Array.isArray(full.resources));
    assert.equal(typeof full['@context'], 'object');
    assert.doesNotThrow(() => parseServiceIndex(JSON.parse(JSON.stringify(full))));
  });

  it('advertises PackageBaseAddress/3.0.0 exactly once (checklist 4)', () => {
    assert.equal(idOf('PackageBaseAddress/3.0.0'), urls.flat);
  });

  it('puts RegistrationsBaseUrl/3.6.0 and /Versioned on the SemVer2 hive without clientVersion (checklist 5)', () => {
    assert.equal(idOf('RegistrationsBaseUrl/3.6.0'), urls.registration);
    assert.equal(idOf('RegistrationsBaseUrl/Versioned'), urls.registration);
    assert.equal(entriesOf('RegistrationsBaseUrl/Versioned')[0]?.clientVersion, undefined);
    for (const t of ['RegistrationsBaseUrl', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.4.0']) {
      assert.equal(idOf(t), urls.registrationSemVer1, t);
    }
  });

  it('advertises every search and autocomplete alias on one @id without a query (checklist 6, 7)', () => {
    const search = ['SearchQueryService', 'SearchQueryService/3.0.0-beta', 'SearchQueryService/3.0.0-rc', 'SearchQueryService/3.4.0', 'SearchQueryService/3.5.0', 'SearchQueryService/Versioned'];
    for (const t of search) assert.equal(idOf(t), urls.search, t);
    const auto = ['SearchAutocompleteService', 'SearchAutocompleteService/3.0.0-beta', 'SearchAutocompleteService/3.0.0-rc', 'SearchAutocompleteService/3.5.0', 'SearchAutocompleteService/Versioned'];
    for (const t of auto) assert.equal(idOf(t), urls.autocomplete, t);
    assert.ok(!urls.search.includes('?') && !urls.autocomplete.includes('?'));
  });

  it('advertises publish, symbols, vulnerabilities and the readme template (checklist 8, 10, 12)', () => {
    assert.equal(idOf('PackagePublish/2.0.0'), urls.publish);
    assert.equal(idOf('PackagePublish/Versioned'), urls.publish);
    assert.equal(idOf('SymbolPackagePublish/4.9.0'), urls.symbolPublish);
    assert.equal(idOf('VulnerabilityInfo/6.7.0'), urls.vulnerability);
    assert.equal(idOf('ReadmeUriTemplate/6.13.0'), 'https://proxy.test/v3/flatcontainer/{lower_id}/{lower_version}/readme');
  });

  it('gives all aliases of one resource the same @id, under the feed base, with a comment', () => {
    const byFamily = new Map<string, Set<string>>();
    for (const e of full.resources.slice(0, full.resources.length - templates.length)) {
      assert.ok(e['@id'].startsWith(base), e['@id']);
      assert.ok(!e['@id'].includes('?'), e['@id']);
      assert.equal(typeof e.comment, 'string');
      assert.equal(e.clientVersion, undefined);
      for (const t of typesOf(e)) {
        const family = t === 'RegistrationsBaseUrl/3.6.0' || t === 'RegistrationsBaseUrl/Versioned' ? 'RegistrationSemVer2' : (t.split('/')[0] ?? t);
        byFamily.set(family, (byFamily.get(family) ?? new Set()).add(e['@id']));
      }
    }
    for (const [family, ids] of byFamily) assert.equal(ids.size, 1, family);
    // No alias is listed twice.
    const all = full.resources.flatMap(typesOf);
    assert.equal(new Set(all).size, all.length);
  });

  it('never advertises LegacyGallery, Catalog or RepositorySignatures (checklist 9, 11)', () => {
    for (const t of full.resources.flatMap(typesOf)) {
      assert.ok(!/^(LegacyGallery|Catalog|RepositorySignatures)/.test(t), t);
    }
  });

  it('resolves every resource the way NuGet.Protocol does, under the feed base (checklist 13)', () => {
    // ServiceTypes.cs order, protocol.md §0.1: the first type present wins.
    const client: Record<string, string[]> = {
      SearchQueryService: ['SearchQueryService/Versioned', 'SearchQueryService/3.4.0', 'SearchQueryService/3.0.0-beta'],
      SearchAutocompleteService: ['SearchAutocompleteService/Versioned', 'SearchAutocompleteService/3.0.0-beta'],
      RegistrationsBaseUrl: ['RegistrationsBaseUrl/Versioned', 'RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/3.4.0', 'RegistrationsBaseUrl/3.0.0-rc', 'RegistrationsBaseUrl/3.0.0-beta', 'RegistrationsBaseUrl'],
      PackageBaseAddress: ['PackageBaseAddress/Versioned', 'PackageBaseAddress/3.0.0'],
      PackagePublish: ['PackagePublish/Versioned', 'PackagePublish/2.0.0'],
    };
    const expected: Record<string, string> = {
      SearchQueryService: urls.search,
      SearchAutocompleteService: urls.autocomplete,
      RegistrationsBaseUrl: urls.registration,
      PackageBaseAddress: urls.flat,
      PackagePublish: urls.publish,
    };
    for (const [name, order] of Object.entries(client)) {
      const type = order.find((t) => entriesOf(t).length > 0);
      assert.ok(type !== undefined, name);
      assert.equal(entriesOf(type)[0]?.['@id'], expected[name], name);
    }
  });

  it('reads back, through nugate’s own parser, as nugate’s URLs', () => {
    const r = parseServiceIndex(JSON.parse(JSON.stringify(full)));
    assert.equal(r.packageBaseAddress, urls.flat);
    assert.equal(r.registrationSemVer2, urls.registration);
    assert.equal(r.registrationSemVer1, urls.registrationSemVer1);
    assert.deepEqual(r.search, [urls.search]);
    assert.deepEqual(r.autocomplete, [urls.autocomplete]);
    assert.equal(r.packagePublish, `${urls.publish}/`);
    assert.equal(r.vulnerabilityInfo, urls.vulnerability);
    assert.equal(r.readmeTemplate, urls.readmeTemplate);
    // The lookup tables cover every type nugate advertises for a resource it reads back.
    assert.ok(LOOKUP.search.every((t) => entriesOf(t).length === 1));
  });

  it('leaves out publish, symbols and vulnerabilities when turned off', () => {
    const off = buildServiceIndex(urls, { publish: false, symbols: false, vulnerability: false, browserTemplates: [] });
    const types = off.resources.flatMap(typesOf);
    assert.ok(!types.some((t) => t.startsWith('PackagePublish')));
    assert.ok(!types.some((t) => t.startsWith('SymbolPackagePublish')));
    assert.ok(!types.some((t) => t.startsWith('VulnerabilityInfo')));
    assert.ok(types.includes('PackageBaseAddress/3.0.0'));
    const onlySymbols = buildServiceIndex(urls, { publish: false, symbols: true, vulnerability: false, browserTemplates: [] });
    assert.deepEqual(onlySymbols.resources.flatMap(typesOf).filter((t) => t.includes('Publish')), ['SymbolPackagePublish/4.9.0']);
  });

  it('appends browser templates verbatim, braces literal in the serialised JSON', () => {
    assert.deepEqual(full.resources.slice(-templates.length), templates);
    const text = JSON.stringify(full);
    assert.ok(text.includes('"https://www.nuget.org/packages/{id}/{version}?_src=template"'));
    assert.ok(text.includes('"https://www.nuget.org/profiles/{owner}?_src=template"'));
    assert.ok(text.includes('{lower_id}/{lower_version}/readme"'));
    assert.ok(!/%7B|%7D/i.test(text));
    // Copies, not the caller's objects.
    assert.notEqual(full.resources.at(-1), templates.at(-1));
  });
});
