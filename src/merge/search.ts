/**
 * Search and autocomplete across upstreams (design.md §5; protocol.md §1.5, §1.6 and §5 items 35–44).
 *
 * Each upstream is asked for the first `skip + take` hits; the merge interleaves them by rank, filters them
 * through the package source mapping, dedupes by id (case-insensitive) and only then applies skip/take.
 * Interleaving uses each upstream's *raw* rank (the position in what it returned, before filtering): the
 * merged list for a smaller `skip + take` is then always a prefix of the merged list for a larger one, which
 * is what keeps consecutive pages from repeating or skipping an id.
 *
 * Known limit: when filtering or deduplication removes so many hits that fewer than `skip + take` remain
 * while an upstream may still hold more, the next page can start past ids this page did not show. The
 * caller can over-fetch to make that rarer.
 */
import { compareVersions, isPrerelease, isSemVer2, lowerNormalized, parseVersion, type NuGetVersion } from '../nuget/version.ts';
import type { Json } from './registration.ts';
import { isJsonObject } from '../nuget/json.ts';

export type { Json };

export interface SearchParams {
  q: string;
  skip: number;
  take: number;
  prerelease: boolean;
  semVerLevel: string | undefined;
  packageType: string | undefined;
}

/** One upstream's answer, fetched with skip=0 and take=skip+take. Given in priority order. */
export interface UpstreamSearch {
  upstream: string;
  totalHits: number;
  data: Json[];
}

const DEFAULT_TAKE = 20;
const MAX_TAKE = 1000;
/** search-query-service-resource.md: "The skip parameter may be at most 3,000". */
const MAX_SKIP = 3000;

function parseInteger(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^[+-]?[0-9]+$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/**
 * Reads search (and autocomplete ID-mode) query parameters the way nuget.org does
 * (NuGetGallery SearchParametersBuilder / SearchController): bad values fall back, they are not errors.
 *
 * @example parseSearchParams({ q: 'json', take: '5000' }).take // 20
 */
export function parseSearchParams(query: Record<string, string | undefined>): SearchParams {
  const skip = parseInteger(query['skip']);
  const take = parseInteger(query['take']);
  const semVerLevel = query['semVerLevel']?.trim();
  // NuGet.Protocol sent `packageTypeFilter` until NuGet.Client PR #7395 (2026) and `packageType` after it.
  const packageType = (query['packageType'] ?? query['packageTypeFilter'])?.trim();
  return {
    q: query['q'] ?? '',
    skip: skip === undefined || skip < 0 ? 0 : Math.min(skip, MAX_SKIP),
    // nuget.org: take < 0 or > 1000 falls back to 20 (not an error, not a clamp); 0 is allowed.
    take: take === undefined || take < 0 || take > MAX_TAKE ? DEFAULT_TAKE : take,
    prerelease: query['prerelease']?.trim().toLowerCase() === 'true',
    semVerLevel: semVerLevel === '' ? undefined : semVerLevel,
    // "empty = no filter"
    packageType: packageType === '' ? undefined : packageType,
  };
}

/** semVerLevel is parsed as a NuGet version; 2.0.0 or higher includes SemVer2 packages (absent = 1.0.0). */
export function semVer2Enabled(semVerLevel: string | undefined): boolean {
  const level = semVerLevel === undefined ? undefined : parseVersion(semVerLevel);
  return level !== undefined && level.major >= 2;
}


/** Visits items rank by rank: rank 0 of every list in priority order, then rank 1, and so on. */
function interleave<T>(lists: T[][], visit: (item: T, list: number) => void): void {
  const longest = lists.reduce((max, list) => Math.max(max, list.length), 0);
  for (let rank = 0; rank < longest; rank++) {
    lists.forEach((list, k) => {
      const item = list[rank];
      if (item !== undefined) visit(item, k);
    });
  }
}

function servedBy(eligible: (id: string) => string[], id: string, upstream: string): boolean {
  const lower = upstream.toLowerCase();
  return eligible(id).some((name) => name.toLowerCase() === lower);
}

/**
 * Packages without declared package types are of type "Dependency" (NuGet's PackageType.Dependency default),
 * so that filter keeps them; any other filter requires a matching `packageTypes[].name`.
 */
function hasPackageType(item: Json, wanted: string): boolean {
  const types = item['packageTypes'];
  const names = Array.isArray(types)
    ? (types as unknown[]).flatMap((t) => (isJsonObject(t) && typeof t['name'] === 'string' ? [t['name'].toLowerCase()] : []))
    : [];
  const lower = wanted.toLowerCase();
  return names.length === 0 ? lower === 'dependency' : names.includes(lower);
}

/**
 * totalHits that never contradicts the data: exact when every upstream returned all its hits, otherwise what
 * was merged plus the hits upstreams reported but did not return (an estimate; overlap is not known).
 */
function mergedTotal(results: Array<{ totalHits: number; data: unknown[] }>, requested: number, merged: number): number {
  let unseen = 0;
  for (const r of results) {
    const total = Number.isFinite(r.totalHits) ? Math.max(0, Math.trunc(r.totalHits)) : 0;
    const complete = r.data.length < requested || total <= r.data.length;
    if (!complete) unseen += total - r.data.length;
  }
  return merged + unseen;
}

interface Group {
  items: Json[];
}

/**
 * Merges search results. See the module comment for the ordering rules.
 *
 * @example
 * const params = parseSearchParams({ q: 'json', skip: '20', take: '20' });
 * // each upstream fetched with skip=0&take=40, then:
 * const page = mergeSearch([internal, nugetOrg], params, mapping.eligible);
 */
export function mergeSearch(
  results: UpstreamSearch[],
  params: SearchParams,
  eligible: (id: string) => string[],
): { totalHits: number; data: Json[] } {
  const groups = new Map<string, Group>();
  const order: Group[] = [];
  interleave(
    results.map((r) => (Array.isArray(r.data) ? r.data : [])),
    (item, k) => {
      const upstream = results[k]?.upstream;
      if (!isJsonObject(item) || typeof item['id'] !== 'string' || upstream === undefined) return;
      const id = item['id'];
      // The dependency-confusion guard applies to search too: only the upstreams mapped for the id may show it.
      if (!servedBy(eligible, id, upstream)) return;
      if (params.packageType !== undefined && !hasPackageType(item, params.packageType)) return;
      const key = id.toLowerCase();
      const group = groups.get(key);
      if (group === undefined) {
        const created = { items: [item] };
        groups.set(key, created);
        order.push(created);
      } else {
        group.items.push(item);
      }
    },
  );

  const merged: Json[] = [];
  const filter = { prerelease: params.prerelease, semVer2: semVer2Enabled(params.semVerLevel) };
  for (const group of order) {
    const result = combine(group.items, filter);
    if (result !== undefined) merged.push(result);
  }

  const requested = params.skip + params.take;
  const data = merged.slice(params.skip, requested);
  return { totalHits: mergedTotal(results, requested, merged.length), data };
}

/**
 * One result from every upstream's hit for an id: metadata of the first (best-ranked) hit, `versions`
 * united, `version` recomputed, `totalDownloads` summed. Undefined when no version passes the filters.
 */
function combine(items: Json[], filter: { prerelease: boolean; semVer2: boolean }): Json | undefined {
  const first = items[0];
  if (first === undefined) return undefined;

  const entries = new Map<string, { entry: Json; parsed: NuGetVersion }>();
  // Candidates for `version`, keyed like the entries; the first spelling seen wins.
  const candidates = new Map<string, { text: string; parsed: NuGetVersion }>();
  const consider = (text: unknown): string | undefined => {
    if (typeof text !== 'string') return undefined;
    const key = lowerNormalized(text);
    const parsed = key === undefined ? undefined : parseVersion(text);
    if (key === undefined || parsed === undefined) return undefined;
    if (!candidates.has(key)) candidates.set(key, { text, parsed });
    return key;
  };

  let downloads: number | undefined;
  let sawVersions = false;
  for (const item of items) {
    consider(item['version']);
    const versions = item['versions'];
    if (Array.isArray(versions)) {
      sawVersions = true;
      for (const entry of versions as unknown[]) {
        if (!isJsonObject(entry)) continue;
        const key = consider(entry['version']);
        const parsed = key === undefined ? undefined : candidates.get(key)?.parsed;
        if (key !== undefined && parsed !== undefined && !entries.has(key)) entries.set(key, { entry, parsed });
      }
    }
    const total = item['totalDownloads'];
    // int64 on nuget.org; JSON numbers stay exact up to 2^53, far above any real download count.
    if (typeof total === 'number' && Number.isFinite(total)) downloads = (downloads ?? 0) + total;
  }

  let best: { text: string; parsed: NuGetVersion } | undefined;
  for (const candidate of candidates.values()) {
    if (!filter.prerelease && isPrerelease(candidate.parsed)) continue;
    if (!filter.semVer2 && isSemVer2(candidate.parsed)) continue;
    if (best === undefined || compareVersions(candidate.parsed, best.parsed) > 0) best = candidate;
  }
  // With no usable version at all, pass the upstream's answer through rather than invent one; with versions
  // that all fail the filters, the result would break "no prerelease without prerelease=true": drop it.
  if (best === undefined && candidates.size > 0) return undefined;

  const result: Json = { ...first };
  if (best !== undefined) result['version'] = best.text;
  if (sawVersions) {
    result['versions'] = [...entries.values()].sort((a, b) => compareVersions(a.parsed, b.parsed)).map((e) => e.entry);
  }
  if (downloads !== undefined) result['totalDownloads'] = downloads;
  return result;
}

/**
 * Autocomplete ID mode: `{ totalHits, data: [ids] }` from each upstream (fetched with skip=0, take=skip+take),
 * interleaved by rank, filtered through the mapping, deduplicated case-insensitively (the first spelling wins).
 */
export function mergeAutocompleteIds(
  results: Array<{ upstream: string; totalHits: number; data: string[] }>,
  skip: number,
  take: number,
  eligible: (id: string) => string[],
): { totalHits: number; data: string[] } {
  const seen = new Set<string>();
  const merged: string[] = [];
  interleave(
    results.map((r) => (Array.isArray(r.data) ? r.data : [])),
    (id, k) => {
      const upstream = results[k]?.upstream;
      if (typeof id !== 'string' || upstream === undefined || !servedBy(eligible, id, upstream)) return;
      const key = id.toLowerCase();
      if (seen.has(key)) return;
      seen.add(key);
      merged.push(id);
    },
  );
  const from = Math.max(0, skip);
  const requested = from + Math.max(0, take);
  return { totalHits: mergedTotal(results, requested, merged.length), data: merged.slice(from, requested) };
}

/**
 * Autocomplete version mode: the union of the eligible upstreams' version lists, deduplicated by normalized
 * version (case-insensitive, metadata ignored; the first spelling wins), ascending. Unparsable entries are dropped.
 */
export function mergeAutocompleteVersions(lists: string[][]): { data: string[] } {
  const seen = new Map<string, { text: string; parsed: NuGetVersion }>();
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const text of list) {
      if (typeof text !== 'string') continue;
      const key = lowerNormalized(text);
      const parsed = parseVersion(text);
      if (key === undefined || parsed === undefined || seen.has(key)) continue;
      seen.set(key, { text, parsed });
    }
  }
  return { data: [...seen.values()].sort((a, b) => compareVersions(a.parsed, b.parsed)).map((v) => v.text) };
}
