/**
 * The V3 documents a folder upstream answers with (folder-transport.ts), shaped like nuget.org's
 * (protocol.md §1.1, §1.3–1.6). Pure functions of the folder index and the synthetic base URL; every URL they
 * write lies under a base the service index advertises, so nugate rewrites all of them like any upstream URL.
 */
import { parseSearchParams, semVer2Enabled, type SearchParams } from '../../merge/search.ts';
import { isPrerelease, normalize, parseRange } from '../../nuget/version.ts';
import type { FolderIndex, FolderPackage } from './scan.ts';

/** The synthetic host of folder upstreams. `.invalid` is reserved (RFC 2606): it never resolves, it is never dialled. */
export const FOLDER_HOST = 'folder.nugate.invalid';

export interface FolderUrls {
  /** `http://folder.nugate.invalid/{name}/` */
  base: string;
  flat: string;
  reg: string;
  query: string;
  autocomplete: string;
  /** PackagePublish @id, in the conventional V2 place. */
  publish: string;
}

export function folderUrls(name: string): FolderUrls {
  const base = `http://${FOLDER_HOST}/${encodeURIComponent(name)}/`;
  return { base, flat: `${base}flat/`, reg: `${base}reg/`, query: `${base}query`, autocomplete: `${base}autocomplete`, publish: `${base}api/v2/package` };
}

type Json = Record<string, unknown>;

/** nuget.org's registration hive puts at most 64 leaves in a page (protocol.md §1.4). */
const MAX_LEAVES_PER_PAGE = 64;

/** nuget.org's `published` for an unlisted version (protocol.md §1.4: year 1900 = unlisted); older clients read it. */
const UNLISTED_PUBLISHED = '1900-01-01T00:00:00+00:00';

const publishedOf = (p: FolderPackage): string => (p.listed ? new Date(p.mtimeMs).toISOString() : UNLISTED_PUBLISHED);

export function serviceIndexDocument(urls: FolderUrls): Json {
  return {
    version: '3.0.0',
    resources: [
      { '@id': urls.flat, '@type': 'PackageBaseAddress/3.0.0', comment: 'Packages in a local folder' },
      { '@id': urls.reg, '@type': 'RegistrationsBaseUrl/3.6.0', comment: 'Registration of the packages in a local folder, SemVer 2.0.0 included' },
      { '@id': urls.query, '@type': 'SearchQueryService/3.0.0-beta' },
      // Same endpoint: it honours packageType, which is what 3.5.0 adds.
      { '@id': urls.query, '@type': 'SearchQueryService/3.5.0' },
      { '@id': urls.autocomplete, '@type': 'SearchAutocompleteService/3.0.0-beta' },
      { '@id': urls.autocomplete, '@type': 'SearchAutocompleteService/3.5.0' },
      // Never dialled: nugate hands pushes for a folder to its publisher (publish.ts). Advertising it is what
      // makes nugate advertise its own publish endpoint for this upstream (resources/service-index.ts).
      // No SymbolPackagePublish: a folder keeps no symbols, and the client would push .snupkg files after each push.
      { '@id': urls.publish, '@type': 'PackagePublish/2.0.0', comment: 'Push, delete (unlist) and relist packages in a local folder' },
    ],
  };
}

/** `{versions}` for the flat container, lowercase normalized, ascending; undefined when the id is absent. */
export function flatIndexDocument(index: FolderIndex, lowerId: string): Json | undefined {
  const versions = index.byId.get(lowerId);
  if (versions === undefined || versions.length === 0) return undefined;
  return { versions: versions.map((p) => p.lowerVersion) };
}

const regIndexUrl = (urls: FolderUrls, lowerId: string): string => `${urls.reg}${lowerId}/index.json`;
const leafUrl = (urls: FolderUrls, p: FolderPackage): string => `${urls.reg}${p.lowerId}/${p.lowerVersion}.json`;
const nupkgUrl = (urls: FolderUrls, p: FolderPackage): string => `${urls.flat}${p.lowerId}/${p.lowerVersion}/${p.lowerId}.${p.lowerVersion}.nupkg`;
const iconUrl = (urls: FolderUrls, p: FolderPackage): string | undefined =>
  p.nuspec.icon === undefined ? undefined : `${urls.flat}${p.lowerId}/${p.lowerVersion}/icon`;

/** Registration ranges the way nuget.org writes them: `2.9.3` → `[2.9.3, )`; unparsable ranges pass through. */
export function registrationRange(range: string | undefined): string {
  if (range === undefined || range.trim() === '') return '(, )';
  const r = parseRange(range);
  if (r === undefined) return range;
  const lower = r.min === undefined ? '' : normalize(r.min);
  const upper = r.max === undefined ? '' : normalize(r.max);
  return `${r.minInclusive ? '[' : '('}${lower}, ${upper}${r.maxInclusive ? ']' : ')'}`;
}

function splitTags(tags: string | undefined): string[] {
  return tags === undefined ? [] : tags.split(/[\s,;]+/).filter((t) => t !== '');
}

function splitAuthors(authors: string | undefined): string[] {
  return authors === undefined ? [] : authors.split(',').map((a) => a.trim()).filter((a) => a !== '');
}

function catalogEntry(urls: FolderUrls, p: FolderPackage): Json {
  const n = p.nuspec;
  const entry: Json = {
    '@id': leafUrl(urls, p),
    '@type': 'PackageDetails',
    authors: n.authors ?? '',
    dependencyGroups: n.dependencyGroups.map((g) => {
      const group: Json = {
        dependencies: g.dependencies.map((d) => ({ id: d.id, range: registrationRange(d.range), registration: regIndexUrl(urls, d.id.toLowerCase()) })),
      };
      if (g.targetFramework !== undefined) group['targetFramework'] = g.targetFramework;
      return group;
    }),
    description: n.description ?? '',
    id: p.id,
    licenseExpression: n.licenseExpression ?? '',
    listed: p.listed,
    packageContent: nupkgUrl(urls, p),
    packageHash: p.sha512,
    packageHashAlgorithm: 'SHA512',
    packageSize: p.size,
    projectUrl: n.projectUrl ?? '',
    published: publishedOf(p),
    tags: splitTags(n.tags),
    title: n.title ?? '',
    version: p.fullVersion,
  };
  const icon = iconUrl(urls, p);
  if (icon !== undefined) entry['iconUrl'] = icon;
  if (n.minClientVersion !== undefined) entry['minClientVersion'] = n.minClientVersion;
  if (n.packageTypes.length > 0) entry['packageTypes'] = n.packageTypes.map((name) => ({ name }));
  return entry;
}

function leafInPage(urls: FolderUrls, p: FolderPackage): Json {
  return {
    '@id': leafUrl(urls, p),
    '@type': 'Package',
    catalogEntry: catalogEntry(urls, p),
    packageContent: nupkgUrl(urls, p),
    registration: regIndexUrl(urls, p.lowerId),
  };
}

/** A registration index with every version inlined, in pages of up to 64 leaves; undefined when the id is absent. */
export function registrationIndexDocument(urls: FolderUrls, index: FolderIndex, lowerId: string): Json | undefined {
  const versions = index.byId.get(lowerId);
  if (versions === undefined || versions.length === 0) return undefined;
  const indexUrl = regIndexUrl(urls, lowerId);
  const pages: Json[] = [];
  for (let i = 0; i < versions.length; i += MAX_LEAVES_PER_PAGE) {
    const leaves = versions.slice(i, i + MAX_LEAVES_PER_PAGE);
    const lower = leaves[0]?.lowerVersion ?? '';
    const upper = leaves[leaves.length - 1]?.lowerVersion ?? '';
    pages.push({
      '@id': `${indexUrl}#page/${lower}/${upper}`,
      '@type': 'catalog:CatalogPage',
      count: leaves.length,
      items: leaves.map((p) => leafInPage(urls, p)),
      parent: indexUrl,
      lower,
      upper,
    });
  }
  return {
    '@id': indexUrl,
    '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
    count: pages.length,
    items: pages,
  };
}

/** The registration leaf document (the target of a leaf `@id`). */
export function registrationLeafDocument(urls: FolderUrls, p: FolderPackage): Json {
  return {
    '@id': leafUrl(urls, p),
    '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
    catalogEntry: leafUrl(urls, p),
    listed: p.listed,
    packageContent: nupkgUrl(urls, p),
    published: publishedOf(p),
    registration: regIndexUrl(urls, p.lowerId),
  };
}

interface Filter {
  prerelease: boolean;
  semVer2: boolean;
  /** Lowercase package type, or undefined for no filter. */
  packageType: string | undefined;
  /** Search's `includeDelisted=true` (protocol.md §1.2); autocomplete never shows unlisted versions. */
  includeDelisted: boolean;
}

function filterOf(params: SearchParams, raw: Record<string, string>, endpoint: 'search' | 'autocomplete'): Filter {
  return {
    prerelease: params.prerelease,
    semVer2: semVer2Enabled(params.semVerLevel),
    packageType: params.packageType?.toLowerCase(),
    includeDelisted: endpoint === 'search' && raw['includeDelisted']?.trim().toLowerCase() === 'true',
  };
}

/** Versions a search may show: listed ones (protocol.md §1.5), prerelease only when asked, SemVer2 only at semVerLevel 2. */
function eligibleVersions(index: FolderIndex, lowerId: string, f: Filter): FolderPackage[] {
  return (index.byId.get(lowerId) ?? []).filter((p) => (p.listed || f.includeDelisted) && (f.prerelease || !isPrerelease(p.version)) && (f.semVer2 || !p.semVer2));
}

/** Packages that declare no type are "Dependency" packages (NuGet's default). */
function packageTypesOf(p: FolderPackage): string[] {
  return p.nuspec.packageTypes.length > 0 ? p.nuspec.packageTypes : ['Dependency'];
}

function hasType(p: FolderPackage, f: Filter): boolean {
  return f.packageType === undefined || packageTypesOf(p).some((t) => t.toLowerCase() === f.packageType);
}

/**
 * Rank of a package for a query, lower is better, undefined for no match: 0 exact id, 1 id prefix, 2 id substring,
 * 3 a match elsewhere (title, description, tags). Every whitespace-separated term must match (case-insensitive);
 * `packageid:X` asks for the exact id, `id:X` for an id substring, as on nuget.org.
 */
export function matchRank(p: FolderPackage, q: string): number | undefined {
  const query = q.trim().toLowerCase();
  if (query === '') return 0;
  const id = p.lowerId;
  const n = p.nuspec;
  const haystack = [id, n.title, n.description, n.tags].filter((s) => s !== undefined).join('\n').toLowerCase();
  for (const term of query.split(/\s+/)) {
    if (term.startsWith('packageid:')) {
      if (id !== term.slice('packageid:'.length)) return undefined;
    } else if (term.startsWith('id:')) {
      if (!id.includes(term.slice('id:'.length))) return undefined;
    } else if (!haystack.includes(term)) {
      return undefined;
    }
  }
  const plain = query.replace(/^(?:packageid|id):/, '');
  if (id === plain) return 0;
  if (id.startsWith(plain)) return 1;
  if (id.includes(plain)) return 2;
  return 3;
}

function paramsOf(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  // The first value of a repeated parameter wins, as in ASP.NET model binding of a scalar.
  for (const [k, v] of query) if (!(k in out)) out[k] = v;
  return out;
}

/** SearchQueryService: `{totalHits, data}` shaped like nuget.org's (protocol.md §1.5). */
export function searchDocument(urls: FolderUrls, index: FolderIndex, query: URLSearchParams): Json {
  const raw = paramsOf(query);
  const params = parseSearchParams(raw);
  const f = filterOf(params, raw, 'search');
  const hits: Array<{ rank: number; versions: FolderPackage[]; latest: FolderPackage }> = [];
  for (const lowerId of index.ids) {
    const versions = eligibleVersions(index, lowerId, f);
    const latest = versions[versions.length - 1];
    if (latest === undefined || !hasType(latest, f)) continue;
    const rank = matchRank(latest, params.q);
    if (rank !== undefined) hits.push({ rank, versions, latest });
  }
  hits.sort((a, b) => a.rank - b.rank || (a.latest.lowerId < b.latest.lowerId ? -1 : a.latest.lowerId > b.latest.lowerId ? 1 : 0));
  const shown = (p: FolderPackage): string => (f.semVer2 ? p.fullVersion : p.normalizedVersion);
  return {
    totalHits: hits.length,
    data: hits.slice(params.skip, params.skip + params.take).map(({ versions, latest }) => {
      const n = latest.nuspec;
      const result: Json = {
        '@id': regIndexUrl(urls, latest.lowerId),
        '@type': 'Package',
        registration: regIndexUrl(urls, latest.lowerId),
        id: latest.id,
        version: shown(latest),
        description: n.description ?? '',
        summary: '',
        title: n.title ?? latest.id,
        projectUrl: n.projectUrl ?? '',
        licenseExpression: n.licenseExpression ?? '',
        tags: splitTags(n.tags),
        authors: splitAuthors(n.authors),
        owners: [],
        totalDownloads: 0,
        verified: false,
        packageTypes: packageTypesOf(latest).map((name) => ({ name })),
        versions: versions.map((v) => ({ version: shown(v), downloads: 0, '@id': leafUrl(urls, v) })),
        vulnerabilities: [],
      };
      const icon = iconUrl(urls, latest);
      if (icon !== undefined) result['iconUrl'] = icon;
      return result;
    }),
  };
}

/**
 * SearchAutocompleteService (protocol.md §1.6): `q` present or `id` absent → ids containing `q` (prefix matches
 * first); otherwise the versions of `id`.
 */
export function autocompleteDocument(index: FolderIndex, query: URLSearchParams): Json {
  const raw = paramsOf(query);
  const params = parseSearchParams(raw);
  const f = filterOf(params, raw, 'autocomplete');
  const id = raw['id'];
  if (raw['q'] === undefined && id !== undefined) {
    const versions = eligibleVersions(index, id.trim().toLowerCase(), { ...f, packageType: undefined }).map((p) => (f.semVer2 ? p.fullVersion : p.normalizedVersion));
    return { totalHits: versions.length, data: versions };
  }
  const q = params.q.trim().toLowerCase();
  const matches: Array<{ prefix: boolean; lowerId: string; id: string }> = [];
  for (const lowerId of index.ids) {
    if (!lowerId.includes(q)) continue;
    const versions = eligibleVersions(index, lowerId, f);
    const latest = versions[versions.length - 1];
    if (latest === undefined || !hasType(latest, f)) continue;
    matches.push({ prefix: lowerId.startsWith(q), lowerId, id: latest.id });
  }
  // index.ids is sorted, and sort is stable: prefix matches first, each group alphabetical.
  matches.sort((a, b) => Number(b.prefix) - Number(a.prefix));
  return { totalHits: matches.length, data: matches.slice(params.skip, params.skip + params.take).map((m) => m.id) };
}
