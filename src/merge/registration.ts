/**
 * Registration (package metadata) rebuilt from the leaves of the eligible upstreams and repaged the way
 * nuget.org pages it (design.md §5; protocol.md §1.4 and §5 items 27–34).
 *
 * Spec: https://learn.microsoft.com/nuget/api/registration-base-url-resource
 * nuget.org's paging: MaxLeavesPerPage = 64, MaxInlinedLeafItems = 127 (NuGetGallery
 * Catalog2RegistrationConfiguration.cs): fewer than 128 versions are all inlined in pages of up to 64;
 * 128 or more are split into pages of 64 that the client fetches by their `@id`.
 */
import { compareVersions, lowerNormalized, normalize, parseVersion, isSemVer2, rangeIsSemVer2, type NuGetVersion } from '../nuget/version.ts';
import { isJsonObject } from '../nuget/json.ts';

export type Json = Record<string, unknown>;

export interface Leaf {
  /** Normalized, lowercase, no metadata: the dedupe key. */
  version: string;
  upstream: string;
  /** The leaf object as found in a page's items (`@id`, `catalogEntry`, `packageContent`, ...), URLs already rewritten. */
  item: Json;
}

export interface RegistrationUrls {
  /** Absolute URL of nugate's registration index for this id. */
  index: string;
  /** Absolute URL of a nugate page document; receives the lowercased lower/upper versions. */
  page(lower: string, upper: string): string;
}

export interface BuiltRegistration {
  index: Json;
  /** `${lower}/${upper}` (lowercase) -> page document, only for pages that are not inlined. */
  pages: Map<string, Json>;
}

export const DEFAULT_PAGE_SIZE = 64;
export const DEFAULT_MAX_INLINED = 127;

const INDEX_TYPES = ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'];
const PAGE_TYPE = 'catalog:CatalogPage';

/**
 * A minimal JSON-LD context, as nuget.org sends. The client ignores it; it keeps the documents
 * self-describing for other readers. These IRIs are vocabulary names, never fetched.
 */
const CONTEXT: Json = {
  '@vocab': 'http://schema.nuget.org/schema#',
  catalog: 'http://schema.nuget.org/catalog#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  items: { '@id': 'catalog:item', '@container': '@set' },
  count: { '@id': 'catalog:count' },
  parent: { '@id': 'catalog:parent', '@type': '@id' },
  published: { '@type': 'xsd:dateTime' },
};


function catalogEntryOf(item: Json): Json | undefined {
  const entry = item['catalogEntry'];
  return isJsonObject(entry) ? entry : undefined;
}

/**
 * The leaves of an inlined page (an item of an index's `items`) or of a page document. Items that are not
 * objects, lack an object `catalogEntry`, or whose `catalogEntry.version` is not a NuGet version are skipped.
 */
export function leavesOfPage(page: unknown, upstream: string): Leaf[] {
  if (!isJsonObject(page) || !Array.isArray(page['items'])) return [];
  const leaves: Leaf[] = [];
  for (const item of page['items'] as unknown[]) {
    if (!isJsonObject(item)) continue;
    const raw = catalogEntryOf(item)?.['version'];
    if (typeof raw !== 'string') continue;
    const version = lowerNormalized(raw);
    if (version === undefined) continue;
    leaves.push({ version, upstream, item });
  }
  return leaves;
}

/**
 * A tolerant reader of an upstream registration index: every page that has an `@id` or inlined `items`.
 * Missing `lower`/`upper` come back as '' (the caller fetches such pages anyway); `items` is present only
 * when the page was inlined.
 */
export function pagesOfIndex(index: unknown): Array<{ url: string; lower: string; upper: string; items?: unknown[] }> {
  if (!isJsonObject(index) || !Array.isArray(index['items'])) return [];
  const pages: Array<{ url: string; lower: string; upper: string; items?: unknown[] }> = [];
  for (const page of index['items'] as unknown[]) {
    if (!isJsonObject(page)) continue;
    const url = page['@id'];
    const items = page['items'];
    const hasItems = Array.isArray(items);
    if (typeof url !== 'string' && !hasItems) continue;
    const lower = page['lower'];
    const upper = page['upper'];
    const entry: { url: string; lower: string; upper: string; items?: unknown[] } = {
      url: typeof url === 'string' ? url : '',
      lower: typeof lower === 'string' ? lower : '',
      upper: typeof upper === 'string' ? upper : '',
    };
    if (hasItems) entry.items = items as unknown[];
    pages.push(entry);
  }
  return pages;
}

interface ParsedLeaf {
  leaf: Leaf;
  parsed: NuGetVersion;
}

/**
 * Unites leaf lists given in priority order: one leaf per version (the first source holding it wins),
 * ascending by NuGet version order. Leaves whose `version` does not parse are dropped.
 */
export function mergeLeaves(sources: Leaf[][]): Leaf[] {
  return mergeParsed(sources).map((p) => p.leaf);
}

function mergeParsed(sources: Leaf[][]): ParsedLeaf[] {
  const seen = new Set<string>();
  const out: ParsedLeaf[] = [];
  for (const source of sources) {
    for (const leaf of source) {
      // Re-key defensively: a caller-built leaf may carry a non-normalized version.
      const key = lowerNormalized(leaf.version);
      if (key === undefined || seen.has(key)) continue;
      const parsed = parseVersion(key);
      if (parsed === undefined) continue;
      seen.add(key);
      out.push({ leaf: key === leaf.version ? leaf : { ...leaf, version: key }, parsed });
    }
  }
  out.sort((a, b) => compareVersions(a.parsed, b.parsed));
  return out;
}

/**
 * The page bound of a leaf: its full version normalized, case kept, without metadata (page `lower`/`upper`
 * are "normalized SemVer2 without metadata"). Falls back to the dedupe key.
 */
function boundOf(p: ParsedLeaf): string {
  const raw = catalogEntryOf(p.leaf.item)?.['version'];
  const parsed = typeof raw === 'string' ? parseVersion(raw) : undefined;
  return parsed === undefined ? normalize(p.parsed) : normalize(parsed);
}

function leafItem(leaf: Leaf, indexUrl: string): Json {
  // Copy, never mutate the caller's (possibly cached) object; unknown fields pass through untouched.
  const item: Json = { ...leaf.item };
  if ('registration' in item) item['registration'] = indexUrl;
  return item;
}

/**
 * Builds nugate's registration index (and, for 128 or more versions, its page documents) from leaves.
 * Leaves are merged (deduplicated and sorted) first, so any list of leaves is accepted.
 *
 * @example
 * const built = buildRegistration(mergeLeaves([internalLeaves, nugetLeaves]), {
 *   index: 'https://nugate.test/v3/registration/contoso.widgets/index.json',
 *   page: (lower, upper) => `https://nugate.test/v3/registration/contoso.widgets/page/${lower}/${upper}.json`,
 * });
 */
export function buildRegistration(
  leaves: Leaf[],
  urls: RegistrationUrls,
  opts?: { pageSize?: number; maxInlined?: number },
): BuiltRegistration {
  const pageSize = opts?.pageSize ?? DEFAULT_PAGE_SIZE;
  const maxInlined = opts?.maxInlined ?? DEFAULT_MAX_INLINED;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new TypeError(`expected opts.pageSize to be a positive integer, got ${String(pageSize)}`);
  }
  if (!Number.isInteger(maxInlined) || maxInlined < 0) {
    throw new TypeError(`expected opts.maxInlined to be a non-negative integer, got ${String(maxInlined)}`);
  }

  const all = mergeParsed([leaves]);
  const inlined = all.length <= maxInlined;
  const pageEntries: Json[] = [];
  const pages = new Map<string, Json>();

  for (let start = 0; start < all.length; start += pageSize) {
    const chunk = all.slice(start, start + pageSize);
    const first = chunk[0];
    const last = chunk[chunk.length - 1];
    if (first === undefined || last === undefined) break;
    const lower = boundOf(first);
    const upper = boundOf(last);
    // URLs carry the lowercase form, like every other nugate path; the bounds themselves keep their case.
    const lowerKey = lower.toLowerCase();
    const upperKey = upper.toLowerCase();
    const items = chunk.map((p) => leafItem(p.leaf, urls.index));

    if (inlined) {
      // An inlined page's @id is a fragment of the index URL (NuGetGallery RegistrationUrlBuilder).
      pageEntries.push({
        '@id': `${urls.index}#page/${lowerKey}/${upperKey}`,
        '@type': PAGE_TYPE,
        count: items.length,
        items,
        parent: urls.index,
        lower,
        upper,
      });
    } else {
      const pageUrl = urls.page(lowerKey, upperKey);
      pageEntries.push({ '@id': pageUrl, '@type': PAGE_TYPE, count: items.length, lower, upper });
      pages.set(`${lowerKey}/${upperKey}`, {
        '@id': pageUrl,
        '@type': PAGE_TYPE,
        count: items.length,
        items,
        lower,
        upper,
        parent: urls.index,
        '@context': CONTEXT,
      });
    }
  }

  const index: Json = {
    '@id': urls.index,
    '@type': [...INDEX_TYPES],
    count: pageEntries.length,
    items: pageEntries,
    '@context': CONTEXT,
  };
  return { index, pages };
}

/**
 * The SemVer1 hive hides SemVer2 packages: a SemVer2 version (dotted prerelease label or `+metadata`), or any
 * dependency whose range has a SemVer2 bound (protocol.md §1.4; package-versioning.md#semantic-versioning-200).
 */
export function filterSemVer1(leaves: Leaf[]): Leaf[] {
  return leaves.filter((leaf) => !isSemVer2Leaf(leaf));
}

function isSemVer2Leaf(leaf: Leaf): boolean {
  const entry = catalogEntryOf(leaf.item);
  const raw = entry?.['version'];
  // The dedupe key has lost its metadata, so the full version decides when there is one.
  const version = parseVersion(typeof raw === 'string' ? raw : leaf.version);
  if (version === undefined || isSemVer2(version)) return true;
  const groups = entry?.['dependencyGroups'];
  if (!Array.isArray(groups)) return false;
  for (const group of groups as unknown[]) {
    const dependencies = isJsonObject(group) ? group['dependencies'] : undefined;
    if (!Array.isArray(dependencies)) continue;
    for (const dependency of dependencies as unknown[]) {
      const range = isJsonObject(dependency) ? dependency['range'] : undefined;
      if (typeof range === 'string' && rangeIsSemVer2(range)) return true;
    }
  }
  return false;
}
