/**
 * The V3 documents the in-process folder transport (src/upstream/folder-transport.ts) answers with, under its
 * synthetic base URL; every URL they write lies under a base the service index advertises, so nugate rewrites all
 * of them like any upstream URL. Leaves, search and autocomplete come from catalog.ts and query.ts, which the
 * folder source (src/sources/folder-source.ts) uses directly; this file goes away with the transport.
 */
import { parseSearchParams } from '../../merge/search.ts';
import { leafItem, publishedOf, type FolderLinks } from './catalog.ts';
import { autocompleteIds, autocompleteVersionsOf, searchFolder } from './query.ts';
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

/** The synthetic URLs, in the shapes the transport routes. */
function linksOf(urls: FolderUrls): FolderLinks {
  return {
    registrationIndex: (id) => `${urls.reg}${id}/index.json`,
    leaf: (id, version) => `${urls.reg}${id}/${version}.json`,
    packageContent: (id, version) => `${urls.flat}${id}/${version}/${id}.${version}.nupkg`,
    asset: (id, version, file) => `${urls.flat}${id}/${version}/${file}`,
  };
}

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

/** A registration index with every version inlined, in pages of up to 64 leaves; undefined when the id is absent. */
export function registrationIndexDocument(urls: FolderUrls, index: FolderIndex, lowerId: string): Json | undefined {
  const versions = index.byId.get(lowerId);
  if (versions === undefined || versions.length === 0) return undefined;
  const links = linksOf(urls);
  const indexUrl = links.registrationIndex(lowerId);
  const pages: Json[] = [];
  for (let i = 0; i < versions.length; i += MAX_LEAVES_PER_PAGE) {
    const leaves = versions.slice(i, i + MAX_LEAVES_PER_PAGE);
    const lower = leaves[0]?.lowerVersion ?? '';
    const upper = leaves[leaves.length - 1]?.lowerVersion ?? '';
    pages.push({
      '@id': `${indexUrl}#page/${lower}/${upper}`,
      '@type': 'catalog:CatalogPage',
      count: leaves.length,
      items: leaves.map((p) => leafItem(links, p)),
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
  const links = linksOf(urls);
  const leaf = links.leaf(p.lowerId, p.lowerVersion);
  return {
    '@id': leaf,
    '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
    catalogEntry: leaf,
    listed: p.listed,
    packageContent: links.packageContent(p.lowerId, p.lowerVersion),
    published: publishedOf(p),
    registration: links.registrationIndex(p.lowerId),
  };
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
  const includeDelisted = raw['includeDelisted']?.trim().toLowerCase() === 'true';
  return { ...searchFolder(index, parseSearchParams(raw), includeDelisted, linksOf(urls)) };
}

/**
 * SearchAutocompleteService (protocol.md §1.6): `q` present or `id` absent → ids containing `q` (prefix matches
 * first); otherwise the versions of `id`.
 */
export function autocompleteDocument(index: FolderIndex, query: URLSearchParams): Json {
  const raw = paramsOf(query);
  const params = parseSearchParams(raw);
  const id = raw['id'];
  if (raw['q'] === undefined && id !== undefined) {
    const versions = autocompleteVersionsOf(index, id.trim().toLowerCase(), params);
    return { totalHits: versions.length, data: versions };
  }
  return { ...autocompleteIds(index, params) };
}
