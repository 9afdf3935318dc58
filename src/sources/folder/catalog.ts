/**
 * Registration leaves of the packages in a folder, shaped like nuget.org's (protocol.md §1.4): every
 * `catalogEntry` is built from the package's own nuspec, so it is as complete as the package allows (dependency
 * groups with ranges, authors, description, license, links...). Pure functions of the scanned packages and a
 * FolderLinks, which decides where the URLs inside point (canonical URLs for the folder source).
 */
import { FEED_SENTINEL } from '../../feed-urls.ts';
import { normalize, parseRange } from '../../nuget/version.ts';
import type { FolderPackage } from './scan.ts';

type Json = Record<string, unknown>;

/** Where the URLs in folder documents point. Ids and versions are passed lowercase (flat-container form). */
export interface FolderLinks {
  registrationIndex(lowerId: string): string;
  leaf(lowerId: string, lowerVersion: string): string;
  packageContent(lowerId: string, lowerVersion: string): string;
  /** The flat-container `icon` / `readme` of a version (protocol.md §1.3, served from inside the nupkg). */
  asset(lowerId: string, lowerVersion: string, file: 'icon' | 'readme'): string;
}

/**
 * nugate's own URLs, written against FEED_SENTINEL (src/feed-urls.ts) as every canonical document is: a folder
 * has no URL of its own that could leak, and these resolve to nugate's flat container and registration.
 */
export const CANONICAL_LINKS: FolderLinks = {
  registrationIndex: (id) => `${FEED_SENTINEL}registration/${id}/index.json`,
  leaf: (id, version) => `${FEED_SENTINEL}registration/${id}/${version}.json`,
  packageContent: (id, version) => `${FEED_SENTINEL}flatcontainer/${id}/${version}/${id}.${version}.nupkg`,
  asset: (id, version, file) => `${FEED_SENTINEL}flatcontainer/${id}/${version}/${file}`,
};

/** nuget.org's `published` for an unlisted version (protocol.md §1.4: year 1900 = unlisted); older clients read it. */
export const UNLISTED_PUBLISHED = '1900-01-01T00:00:00+00:00';

/** A folder has no publish date: the file's modification time is the closest thing to one. */
export const publishedOf = (p: FolderPackage): string => (p.listed ? new Date(p.mtimeMs).toISOString() : UNLISTED_PUBLISHED);

/**
 * Registration ranges the way nuget.org writes them: `2.9.3` → `[2.9.3, )`; unparsable ranges pass through.
 * @example registrationRange('[1.0,2.0)') // '[1.0.0, 2.0.0)'
 */
export function registrationRange(range: string | undefined): string {
  if (range === undefined || range.trim() === '') return '(, )';
  const r = parseRange(range);
  if (r === undefined) return range;
  const lower = r.min === undefined ? '' : normalize(r.min);
  const upper = r.max === undefined ? '' : normalize(r.max);
  return `${r.minInclusive ? '[' : '('}${lower}, ${upper}${r.maxInclusive ? ']' : ')'}`;
}

/** nuget.org splits `<tags>` on whitespace, commas and semicolons. */
export function splitTags(tags: string | undefined): string[] {
  return tags === undefined ? [] : tags.split(/[\s,;]+/).filter((t) => t !== '');
}

export function splitAuthors(authors: string | undefined): string[] {
  return authors === undefined ? [] : authors.split(',').map((a) => a.trim()).filter((a) => a !== '');
}

/** Packages that declare no type are "Dependency" packages (NuGet's default). */
export function packageTypesOf(p: FolderPackage): string[] {
  return p.nuspec.packageTypes.length > 0 ? p.nuspec.packageTypes : ['Dependency'];
}

/**
 * The icon a client should show: the embedded one through the flat container, else the author's legacy
 * `<iconUrl>` as written (it names the author's site, not a feed).
 */
export function iconUrlOf(links: FolderLinks, p: FolderPackage): string | undefined {
  return p.nuspec.icon !== undefined ? links.asset(p.lowerId, p.lowerVersion, 'icon') : p.nuspec.iconUrl;
}

/** The full `catalogEntry` of a version (protocol.md §1.4); optional nuspec fields are left out when absent. */
export function catalogEntry(links: FolderLinks, p: FolderPackage): Json {
  const n = p.nuspec;
  const entry: Json = {
    '@id': links.leaf(p.lowerId, p.lowerVersion),
    '@type': 'PackageDetails',
    authors: n.authors ?? '',
    dependencyGroups: n.dependencyGroups.map((g) => {
      const group: Json = {
        dependencies: g.dependencies.map((d) => ({ id: d.id, range: registrationRange(d.range), registration: links.registrationIndex(d.id.toLowerCase()) })),
      };
      if (g.targetFramework !== undefined) group['targetFramework'] = g.targetFramework;
      return group;
    }),
    description: n.description ?? '',
    id: p.id,
    licenseExpression: n.licenseExpression ?? '',
    licenseUrl: n.licenseUrl ?? '',
    listed: p.listed,
    packageContent: links.packageContent(p.lowerId, p.lowerVersion),
    packageHash: p.sha512,
    packageHashAlgorithm: 'SHA512',
    packageSize: p.size,
    projectUrl: n.projectUrl ?? '',
    published: publishedOf(p),
    summary: n.summary ?? '',
    tags: splitTags(n.tags),
    title: n.title ?? '',
    version: p.fullVersion,
  };
  const icon = iconUrlOf(links, p);
  if (icon !== undefined) entry['iconUrl'] = icon;
  if (n.readme !== undefined) entry['readmeUrl'] = links.asset(p.lowerId, p.lowerVersion, 'readme');
  if (n.minClientVersion !== undefined) entry['minClientVersion'] = n.minClientVersion;
  // Only declared types, as nuget.org writes them; readers take "no packageTypes" to mean Dependency.
  if (n.packageTypes.length > 0) entry['packageTypes'] = n.packageTypes.map((name) => ({ name }));
  return entry;
}

/** A leaf as it sits in a registration page's `items`. */
export function leafItem(links: FolderLinks, p: FolderPackage): Json {
  return {
    '@id': links.leaf(p.lowerId, p.lowerVersion),
    '@type': 'Package',
    catalogEntry: catalogEntry(links, p),
    packageContent: links.packageContent(p.lowerId, p.lowerVersion),
    registration: links.registrationIndex(p.lowerId),
  };
}
