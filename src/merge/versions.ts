/**
 * Flat-container version union across the eligible upstreams (design.md §5, protocol.md §1.3 and §5 items 14–17):
 * lowercased, normalized, no build metadata, unique, ascending; a version held by several upstreams is served
 * by the one with the highest priority, and provenance records which one that is so the nupkg download goes there.
 */
import { compareVersions, lowerNormalized, parseVersion, type NuGetVersion } from '../nuget/version.ts';

/** One upstream's flat-container `versions` list. Sources are given in priority order. */
export interface VersionSource {
  upstream: string;
  versions: string[];
}

export interface MergedVersions {
  /** lowerNormalized versions, unique, ascending by NuGet's version order. */
  versions: string[];
  /** version -> the highest-priority upstream that lists it. */
  provenance: Record<string, string>;
}

/**
 * Unites version lists. Strings that are not NuGet versions are dropped: the client parses every entry
 * (NuGetVersion.Parse) and would fail on them, and "every version listed must be available for download".
 *
 * @example
 * mergeVersionLists([{ upstream: 'a', versions: ['1.0.0'] }, { upstream: 'b', versions: ['1.0', '0.9.0-Beta'] }])
 * // { versions: ['0.9.0-beta', '1.0.0'], provenance: { '1.0.0': 'a', '0.9.0-beta': 'b' } }
 */
export function mergeVersionLists(sources: VersionSource[]): MergedVersions {
  const provenance: Record<string, string> = {};
  const parsed: Array<{ key: string; version: NuGetVersion }> = [];
  for (const source of sources) {
    for (const text of source.versions) {
      // Upstreams may list "1.0.0+sha" or "1.0.0-Beta": the key is the flat-container form.
      const key = lowerNormalized(text);
      if (key === undefined || Object.hasOwn(provenance, key)) continue;
      const version = parseVersion(key);
      if (version === undefined) continue;
      provenance[key] = source.upstream;
      parsed.push({ key, version });
    }
  }
  parsed.sort((a, b) => compareVersions(a.version, b.version));
  return { versions: parsed.map((p) => p.key), provenance };
}
