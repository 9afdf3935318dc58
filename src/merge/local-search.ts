/**
 * Search and autocomplete answered from what is cached, for offline mode (design.md §5): an air-gapped nugate has
 * no search service to ask, but it knows every id it has stored. Pure: the caller gathers the packages.
 */
import { parseVersion, compareVersions, isPrerelease, isSemVer2, toFullString, normalize, type NuGetVersion } from '../nuget/version.ts';
import { semVer2Enabled, type SearchParams, type Json } from './search.ts';
import { FEED_SENTINEL } from '../feed-urls.ts';

export interface LocalVersion {
  version: string;
  listed: boolean;
  /** The registration catalogEntry when the registration is cached (description, authors, tags, ...). */
  entry?: Json;
}

export interface LocalPackage {
  /** Lowercase id. */
  id: string;
  /** Display id (as the package spells it) when known. */
  displayId: string;
  upstream: string;
  versions: LocalVersion[];
}

interface Candidate {
  pkg: LocalPackage;
  versions: Array<{ v: NuGetVersion; text: string; entry?: Json }>;
  rank: number;
}

const text = (entry: Json | undefined, key: string): string => {
  const v = entry?.[key];
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string').join(' ');
  return '';
};

/** Lower is better: exact id, id prefix, id substring, then a match in title/description/tags. */
function rankOf(pkg: LocalPackage, latest: Json | undefined, q: string): number | undefined {
  if (q === '') return 3;
  const id = pkg.id;
  // "packageid:X" / "id:X" are the field filters clients send (protocol.md §5 item 43).
  const field = /^(packageid|id):(.+)$/i.exec(q);
  if (field?.[2]) return id === field[2].toLowerCase() ? 0 : undefined;
  if (id === q) return 0;
  if (id.startsWith(q)) return 1;
  if (id.includes(q)) return 2;
  const haystack = `${text(latest, 'title')} ${text(latest, 'description')} ${text(latest, 'tags')}`.toLowerCase();
  return q.split(/\s+/).every((term) => haystack.includes(term) || id.includes(term)) ? 3 : undefined;
}

/**
 * The metadata that describes a package: the newest version's when nugate has it, else the newest version that has
 * any (a bare upstream list says nothing; a held nuspec of an older version still knows the description).
 */
function describing(versions: ReadonlyArray<{ entry?: Json }>): Json | undefined {
  for (let i = versions.length - 1; i >= 0; i--) {
    const entry = versions[i]?.entry;
    if (entry !== undefined) return entry;
  }
  return undefined;
}

function candidates(packages: LocalPackage[], params: SearchParams, eligible: (id: string) => string[]): Candidate[] {
  const q = params.q.trim().toLowerCase();
  const semver2 = semVer2Enabled(params.semVerLevel);
  const out: Candidate[] = [];
  const seen = new Set<string>();
  for (const pkg of packages) {
    if (seen.has(pkg.id) || !eligible(pkg.id).some((u) => u.toLowerCase() === pkg.upstream.toLowerCase())) continue;
    const versions = pkg.versions
      .filter((x) => x.listed)
      .flatMap((x) => {
        const v = parseVersion(x.version);
        return v ? [{ v, text: toFullString(v), ...(x.entry ? { entry: x.entry } : {}) }] : [];
      })
      .filter((x) => (params.prerelease || !isPrerelease(x.v)) && (semver2 || !isSemVer2(x.v)))
      .sort((a, b) => compareVersions(a.v, b.v));
    const latest = versions[versions.length - 1];
    if (!latest) continue;
    const rank = rankOf(pkg, describing(versions), q);
    if (rank === undefined) continue;
    if (params.packageType) {
      const declared = (describing(versions)?.packageTypes as Array<{ name?: unknown }> | undefined)?.map((t) => String(t.name ?? '').toLowerCase()) ?? [];
      const types = declared.length > 0 ? declared : ['dependency'];
      if (!types.includes(params.packageType.toLowerCase())) continue;
    }
    seen.add(pkg.id);
    out.push({ pkg, versions, rank });
  }
  return out.sort((a, b) => a.rank - b.rank || a.pkg.id.localeCompare(b.pkg.id));
}

export function localSearch(packages: LocalPackage[], params: SearchParams, eligible: (id: string) => string[]): { totalHits: number; data: Json[] } {
  const all = candidates(packages, params, eligible);
  const data = all.slice(params.skip, params.skip + params.take).map(({ pkg, versions }) => {
    const latest = versions[versions.length - 1];
    const entry = describing(versions);
    const registration = `${FEED_SENTINEL}registration/${pkg.id}/index.json`;
    const result: Json = {
      '@id': registration,
      '@type': 'Package',
      registration,
      id: text(entry, 'id') || pkg.displayId,
      version: latest?.text ?? '',
      description: text(entry, 'description'),
      summary: text(entry, 'summary'),
      title: text(entry, 'title') || pkg.displayId,
      authors: text(entry, 'authors'),
      tags: text(entry, 'tags').split(/[\s,]+/).filter(Boolean),
      totalDownloads: 0,
      verified: false,
      packageTypes: (entry?.packageTypes as unknown) ?? [{ name: 'Dependency' }],
      versions: versions.map((x) => ({ version: x.text, downloads: 0, '@id': `${FEED_SENTINEL}registration/${pkg.id}/${normalize(x.v).toLowerCase()}.json` })),
    };
    return result;
  });
  return { totalHits: all.length, data };
}

export function localAutocompleteIds(packages: LocalPackage[], params: SearchParams, eligible: (id: string) => string[]): { totalHits: number; data: string[] } {
  const all = candidates(packages, params, eligible);
  return { totalHits: all.length, data: all.slice(params.skip, params.skip + params.take).map((c) => text(describing(c.versions), 'id') || c.pkg.displayId) };
}
