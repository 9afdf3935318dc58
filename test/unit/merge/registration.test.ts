import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildRegistration,
  filterSemVer1,
  leavesOfPage,
  mergeLeaves,
  pagesOfIndex,
  type Json,
  type Leaf,
  type RegistrationUrls,
} from '../../../src/merge/registration.ts';
import { compareVersionStrings, lowerNormalized } from '../../../src/nuget/version.ts';

const INDEX = 'https://nugate.test/v3/registration/foo/index.json';
const URLS: RegistrationUrls = {
  index: INDEX,
  page: (lower, upper) => `https://nugate.test/v3/registration/foo/page/${lower}/${upper}.json`,
};

function item(version: string, extra: Json = {}): Json {
  return {
    '@id': `https://nugate.test/v3/registration/foo/${version.toLowerCase()}.json`,
    '@type': 'Package',
    catalogEntry: { '@id': `https://nugate.test/catalog/foo.${version}.json`, id: 'Foo', version, listed: true },
    packageContent: `https://nugate.test/v3/flatcontainer/foo/${version.toLowerCase()}/foo.${version.toLowerCase()}.nupkg`,
    registration: 'https://upstream.test/registration/foo/index.json',
    ...extra,
  };
}

function leaf(version: string, upstream = 'u1', extra: Json = {}): Leaf {
  return { version: lowerNormalized(version) ?? version, upstream, item: item(version, extra) };
}

/** n distinct versions, given out of order. */
function versions(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`${Math.floor(i / 10)}.${i % 10}.0`);
  return out.reverse();
}

function pageList(index: Json): Json[] {
  const items = index['items'];
  assert.ok(Array.isArray(items));
  return items as Json[];
}

function versionsOf(items: unknown): string[] {
  assert.ok(Array.isArray(items));
  return (items as Json[]).map((i) => (i['catalogEntry'] as Json)['version'] as string);
}

/** Checks the protocol invariants of a built registration and returns every leaf version in page order. */
function checkInvariants(built: ReturnType<typeof buildRegistration>, inlined: boolean): string[] {
  const pages = pageList(built.index);
  assert.equal(built.index['count'], pages.length);
  assert.equal(built.index['@id'], INDEX);
  const all: string[] = [];
  for (const page of pages) {
    const lower = page['lower'] as string;
    const upper = page['upper'] as string;
    let items: unknown;
    if (inlined) {
      assert.equal(page['@id'], `${INDEX}#page/${lower.toLowerCase()}/${upper.toLowerCase()}`);
      assert.equal(page['parent'], INDEX);
      items = page['items'];
    } else {
      assert.equal(page['items'], undefined, 'non-inlined pages carry no items in the index');
      const key = `${lower.toLowerCase()}/${upper.toLowerCase()}`;
      const doc = built.pages.get(key);
      assert.ok(doc, `page document ${key}`);
      assert.equal(doc['@id'], page['@id']);
      assert.equal(doc['@id'], URLS.page(lower.toLowerCase(), upper.toLowerCase()));
      assert.equal(doc['parent'], INDEX);
      assert.equal(doc['count'], page['count']);
      assert.equal(doc['lower'], lower);
      assert.equal(doc['upper'], upper);
      items = doc['items'];
    }
    const vs = versionsOf(items);
    assert.equal(page['count'], vs.length);
    assert.ok(vs.length >= 1 && vs.length <= 64);
    assert.equal(vs[0], lower);
    assert.equal(vs[vs.length - 1], upper);
    all.push(...vs);
  }
  if (!inlined) assert.equal(built.pages.size, pages.length);
  else assert.equal(built.pages.size, 0);
  // Sorted ascending across pages, no duplicates.
  for (let i = 1; i < all.length; i++) assert.ok(compareVersionStrings(all[i - 1] ?? '', all[i] ?? '') < 0, `${all[i - 1]} < ${all[i]}`);
  return all;
}

describe('buildRegistration paging (nuget.org heuristic)', () => {
  const cases: Array<{ n: number; pages: number; inlined: boolean; last: number }> = [
    { n: 3, pages: 1, inlined: true, last: 3 },
    { n: 64, pages: 1, inlined: true, last: 64 },
    { n: 65, pages: 2, inlined: true, last: 1 },
    { n: 127, pages: 2, inlined: true, last: 63 },
    { n: 128, pages: 2, inlined: false, last: 64 },
    { n: 300, pages: 5, inlined: false, last: 44 },
  ];
  for (const c of cases) {
    it(`${c.n} versions -> ${c.pages} ${c.inlined ? 'inlined' : 'separate'} page(s)`, () => {
      const built = buildRegistration(versions(c.n).map((v) => leaf(v)), URLS);
      const pages = pageList(built.index);
      assert.equal(pages.length, c.pages);
      assert.equal(pages[pages.length - 1]?.['count'], c.last);
      const all = checkInvariants(built, c.inlined);
      assert.equal(all.length, c.n);
      assert.equal(new Set(all).size, c.n);
    });
  }

  it('an empty leaf list gives an empty index', () => {
    const built = buildRegistration([], URLS);
    assert.equal(built.index['count'], 0);
    assert.deepEqual(built.index['items'], []);
  });

  it('honours custom page sizes and validates them', () => {
    const built = buildRegistration(versions(10).map((v) => leaf(v)), URLS, { pageSize: 3, maxInlined: 5 });
    assert.equal(pageList(built.index).length, 4);
    checkInvariants(built, false);
    assert.throws(() => buildRegistration([], URLS, { pageSize: 0 }), /pageSize/);
    assert.throws(() => buildRegistration([], URLS, { maxInlined: -1 }), /maxInlined/);
  });
});

describe('buildRegistration content', () => {
  it('sets the index shape and rewrites leaf registration, leaving unknown fields alone', () => {
    const source = leaf('1.0.0', 'u1', { custom: { nested: [1, 2] }, listed: false });
    const built = buildRegistration([source], URLS);
    assert.deepEqual(built.index['@type'], ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink']);
    assert.ok(typeof built.index['@context'] === 'object');
    const out = (pageList(built.index)[0]?.['items'] as Json[])[0];
    assert.equal(out?.['registration'], INDEX);
    assert.deepEqual(out?.['custom'], { nested: [1, 2] });
    assert.equal(out?.['listed'], false);
    assert.deepEqual(out?.['catalogEntry'], source.item['catalogEntry']);
    // The caller's leaf is not mutated.
    assert.equal(source.item['registration'], 'https://upstream.test/registration/foo/index.json');
  });

  it('does not add registration to leaves that had none', () => {
    const l = leaf('1.0.0');
    delete l.item['registration'];
    const out = (pageList(buildRegistration([l], URLS).index)[0]?.['items'] as Json[])[0];
    assert.equal(out !== undefined && 'registration' in out, false);
  });

  it('page bounds are normalized without metadata, case kept; URLs use lowercase', () => {
    const built = buildRegistration([leaf('1.0.0-Beta+sha.1'), leaf('01.2.0.0-RC.1')], URLS, { maxInlined: 0 });
    const page = pageList(built.index)[0];
    assert.equal(page?.['lower'], '1.0.0-Beta');
    assert.equal(page?.['upper'], '1.2.0-RC.1');
    assert.equal(page?.['@id'], URLS.page('1.0.0-beta', '1.2.0-rc.1'));
    assert.ok(built.pages.has('1.0.0-beta/1.2.0-rc.1'));
    // The leaf keeps its full version, metadata included.
    const doc = built.pages.get('1.0.0-beta/1.2.0-rc.1');
    assert.deepEqual(versionsOf(doc?.['items']), ['1.0.0-Beta+sha.1', '01.2.0.0-RC.1']);
  });

  it('dedupes and sorts leaves it is given directly', () => {
    const built = buildRegistration([leaf('2.0.0'), leaf('1.0.0'), leaf('2.0.0', 'u2')], URLS);
    assert.deepEqual(checkInvariants(built, true), ['1.0.0', '2.0.0']);
  });
});

describe('mergeLeaves', () => {
  it('two upstreams with an overlapping version: priority wins, result sorted and unique', () => {
    const internal = [leaf('1.0.0', 'internal'), leaf('2.0.0', 'internal', { marker: 'internal' })];
    const nuget = [leaf('3.0.0', 'nuget'), leaf('2.0.0', 'nuget', { marker: 'nuget' }), leaf('0.5.0', 'nuget')];
    const merged = mergeLeaves([internal, nuget]);
    assert.deepEqual(
      merged.map((l) => [l.version, l.upstream]),
      [
        ['0.5.0', 'nuget'],
        ['1.0.0', 'internal'],
        ['2.0.0', 'internal'],
        ['3.0.0', 'nuget'],
      ],
    );
    assert.equal(merged.find((l) => l.version === '2.0.0')?.item['marker'], 'internal');

    const built = buildRegistration(merged, URLS);
    assert.deepEqual(checkInvariants(built, true), ['0.5.0', '1.0.0', '2.0.0', '3.0.0']);
  });

  it('treats versions differing only in case, padding or metadata as one', () => {
    const merged = mergeLeaves([[leaf('1.0.0-Beta', 'a')], [leaf('1.0.0-beta', 'b'), leaf('1.0.0.0', 'b'), leaf('1.0.0+meta', 'b')]]);
    assert.deepEqual(
      merged.map((l) => [l.version, l.upstream]),
      [
        ['1.0.0-beta', 'a'],
        ['1.0.0', 'b'],
      ],
    );
  });
});

describe('leavesOfPage / pagesOfIndex', () => {
  it('reads an inlined index and a page document, skipping malformed items', () => {
    const page = {
      '@id': 'https://up.test/reg/foo/index.json#page/1.0.0/2.0.0',
      lower: '1.0.0',
      upper: '2.0.0',
      count: 5,
      items: [item('1.0.0'), item('2.0.0-RC'), null, { catalogEntry: 'https://up.test/catalog/x.json' }, { catalogEntry: { version: 'nope' } }, { foo: 1 }],
    };
    const leaves = leavesOfPage(page, 'u1');
    assert.deepEqual(
      leaves.map((l) => [l.version, l.upstream]),
      [
        ['1.0.0', 'u1'],
        ['2.0.0-rc', 'u1'],
      ],
    );
    assert.equal(leaves[0]?.item, page.items[0], 'the item object is passed through as is');
    assert.deepEqual(leavesOfPage({ '@id': 'x' }, 'u1'), []);
    assert.deepEqual(leavesOfPage('garbage', 'u1'), []);

    const index = {
      count: 3,
      items: [page, { '@id': 'https://up.test/reg/foo/page/3.0.0/4.0.0.json', lower: '3.0.0', upper: '4.0.0', count: 64 }, 42, { lower: 'x' }],
    };
    const pages = pagesOfIndex(index);
    assert.equal(pages.length, 2);
    assert.equal(pages[0]?.items?.length, 6);
    assert.deepEqual(pages[1], { url: 'https://up.test/reg/foo/page/3.0.0/4.0.0.json', lower: '3.0.0', upper: '4.0.0' });
    assert.deepEqual(pagesOfIndex({}), []);
    assert.deepEqual(pagesOfIndex(null), []);
  });
});

describe('filterSemVer1', () => {
  it('drops SemVer2 versions and leaves with a SemVer2 dependency range', () => {
    const deps = (range: string): Json => ({
      catalogEntry: {
        id: 'Foo',
        version: '4.0.0',
        dependencyGroups: [{ targetFramework: 'net8.0', dependencies: [{ id: 'Bar', range }] }],
      },
    });
    const input: Leaf[] = [
      leaf('1.0.0'),
      leaf('1.0.0-beta'),
      leaf('1.0.0-beta.1'),
      leaf('2.0.0+sha'),
      { version: '4.0.0', upstream: 'u1', item: deps('[1.0.0-rc.1, )') },
      { version: '4.0.1', upstream: 'u1', item: { catalogEntry: { version: '4.0.1', dependencyGroups: [{ dependencies: [{ id: 'Bar', range: '[1.0.0, 2.0.0)' }] }, {}] } } },
    ];
    assert.deepEqual(
      filterSemVer1(input).map((l) => l.version),
      ['1.0.0', '1.0.0-beta', '4.0.1'],
    );
  });
});
