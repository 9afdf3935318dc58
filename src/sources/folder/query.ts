/**
 * Search and autocomplete over the packages in a folder (protocol.md §1.5, §1.6), answered from the scanned
 * index: no search service is asked, the nuspecs are right here. Pure functions of the index, the parsed
 * parameters and a FolderLinks.
 */
import { semVer2Enabled, type SearchParams } from '../../merge/search.ts';
import { isPrerelease } from '../../nuget/version.ts';
import { iconUrlOf, packageTypesOf, splitAuthors, splitTags, type FolderLinks } from './catalog.ts';
import type { FolderIndex, FolderPackage } from './scan.ts';

type Json = Record<string, unknown>;

export interface SearchAnswer {
  totalHits: number;
  data: Json[];
}

interface Filter {
  prerelease: boolean;
  semVer2: boolean;
  /** Lowercase package type, or undefined for no filter. */
  packageType: string | undefined;
  /** Search's `includeDelisted=true` (protocol.md §1.2); autocomplete never shows unlisted versions. */
  includeDelisted: boolean;
}

function filterOf(params: SearchParams, includeDelisted: boolean): Filter {
  return {
    prerelease: params.prerelease,
    semVer2: semVer2Enabled(params.semVerLevel),
    packageType: params.packageType?.toLowerCase(),
    includeDelisted,
  };
}

/** Versions a search may show: listed ones (protocol.md §1.5), prerelease only when asked, SemVer2 only at semVerLevel 2. */
function eligibleVersions(index: FolderIndex, lowerId: string, f: Filter): FolderPackage[] {
  return (index.byId.get(lowerId) ?? []).filter((p) => (p.listed || f.includeDelisted) && (f.prerelease || !isPrerelease(p.version)) && (f.semVer2 || !p.semVer2));
}

function hasType(p: FolderPackage, f: Filter): boolean {
  return f.packageType === undefined || packageTypesOf(p).some((t) => t.toLowerCase() === f.packageType);
}

/** The version string a client may see: `+metadata` only at semVerLevel 2 (protocol.md §1.6). */
const shown = (p: FolderPackage, f: Filter): string => (f.semVer2 ? p.fullVersion : p.normalizedVersion);

/**
 * Rank of a package for a query, lower is better, undefined for no match: 0 exact id, 1 id prefix, 2 id substring,
 * 3 a match elsewhere (title, description, tags, summary). Every whitespace-separated term must match
 * (case-insensitive); `packageid:X` asks for the exact id, `id:X` for an id substring, as on nuget.org.
 * @example matchRank(fooBar, 'foo') // 1, for a package with the id Foo.Bar (an id prefix)
 */
export function matchRank(p: FolderPackage, q: string): number | undefined {
  const query = q.trim().toLowerCase();
  if (query === '') return 0;
  const id = p.lowerId;
  const n = p.nuspec;
  const haystack = [id, n.title, n.description, n.tags, n.summary].filter((s) => s !== undefined).join('\n').toLowerCase();
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

function searchResult(links: FolderLinks, versions: readonly FolderPackage[], latest: FolderPackage, f: Filter): Json {
  const n = latest.nuspec;
  const registration = links.registrationIndex(latest.lowerId);
  const result: Json = {
    '@id': registration,
    '@type': 'Package',
    registration,
    id: latest.id,
    version: shown(latest, f),
    description: n.description ?? '',
    summary: n.summary ?? '',
    title: n.title ?? latest.id,
    projectUrl: n.projectUrl ?? '',
    licenseUrl: n.licenseUrl ?? '',
    licenseExpression: n.licenseExpression ?? '',
    tags: splitTags(n.tags),
    authors: splitAuthors(n.authors),
    owners: [],
    totalDownloads: 0,
    verified: false,
    packageTypes: packageTypesOf(latest).map((name) => ({ name })),
    versions: versions.map((v) => ({ version: shown(v, f), downloads: 0, '@id': links.leaf(v.lowerId, v.lowerVersion) })),
    vulnerabilities: [],
  };
  const icon = iconUrlOf(links, latest);
  if (icon !== undefined) result['iconUrl'] = icon;
  return result;
}

/**
 * SearchQueryService: `{totalHits, data}` shaped like nuget.org's (protocol.md §1.5). Hits are ranked
 * (matchRank), ties by id; the package type filter applies to the latest eligible version.
 */
export function searchFolder(index: FolderIndex, params: SearchParams, includeDelisted: boolean, links: FolderLinks): SearchAnswer {
  const f = filterOf(params, includeDelisted);
  const hits: Array<{ rank: number; versions: FolderPackage[]; latest: FolderPackage }> = [];
  for (const lowerId of index.ids) {
    const versions = eligibleVersions(index, lowerId, f);
    const latest = versions[versions.length - 1];
    if (latest === undefined || !hasType(latest, f)) continue;
    const rank = matchRank(latest, params.q);
    if (rank !== undefined) hits.push({ rank, versions, latest });
  }
  // index.ids is sorted and sort is stable: equal ranks stay in id order.
  hits.sort((a, b) => a.rank - b.rank);
  return {
    totalHits: hits.length,
    data: hits.slice(params.skip, params.skip + params.take).map(({ versions, latest }) => searchResult(links, versions, latest, f)),
  };
}

/** Autocomplete in id mode (protocol.md §1.6): ids containing `q`, prefix matches first; ids with only unlisted versions are left out. */
export function autocompleteIds(index: FolderIndex, params: SearchParams): { totalHits: number; data: string[] } {
  const f = filterOf(params, false);
  const q = params.q.trim().toLowerCase();
  const matches: Array<{ prefix: boolean; id: string }> = [];
  for (const lowerId of index.ids) {
    if (!lowerId.includes(q)) continue;
    const versions = eligibleVersions(index, lowerId, f);
    const latest = versions[versions.length - 1];
    if (latest === undefined || !hasType(latest, f)) continue;
    matches.push({ prefix: lowerId.startsWith(q), id: latest.id });
  }
  // index.ids is sorted and sort is stable: prefix matches first, each group alphabetical.
  matches.sort((a, b) => Number(b.prefix) - Number(a.prefix));
  return { totalHits: matches.length, data: matches.slice(params.skip, params.skip + params.take).map((m) => m.id) };
}

/** Autocomplete in version mode (protocol.md §1.6): the listed versions of an id, ascending, filtered like search. */
export function autocompleteVersionsOf(index: FolderIndex, lowerId: string, params: SearchParams): string[] {
  const f = filterOf(params, false);
  return eligibleVersions(index, lowerId, { ...f, packageType: undefined }).map((p) => shown(p, f));
}
