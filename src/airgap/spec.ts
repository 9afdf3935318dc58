/**
 * What a prefetch input asks for: a package id and a version spec, resolved with NuGet's rules (nuget/version.ts):
 * a range → the lowest applicable version, a floating version → the highest match, nothing → the highest stable.
 */
import { highestFloating, isPrerelease, lowestApplicable, parseFloatRange, parseRange, parseVersion, compareVersions, type FloatRange, type NuGetVersion, type VersionRange } from '../nuget/version.ts';

export type VersionSpec =
  | { kind: 'range'; range: VersionRange }
  | { kind: 'float'; float: FloatRange }
  /** `Id` alone in a list: the highest stable version (the highest prerelease when there is no stable one). */
  | { kind: 'latest' };

export interface Requirement {
  id: string;
  spec: VersionSpec;
  /** Where it came from (a file path), for messages. */
  from: string;
}

/**
 * A version, range or floating version as MSBuild and nuspecs write it; undefined when it is none of them.
 * @example parseVersionSpec('[1.0, 2.0)')?.kind // 'range'
 */
export function parseVersionSpec(text: string | undefined): VersionSpec | undefined {
  if (text === undefined || text.trim() === '') return { kind: 'latest' };
  const float = parseFloatRange(text);
  if (float !== undefined) return { kind: 'float', float };
  const range = parseRange(text);
  return range === undefined ? undefined : { kind: 'range', range };
}

/** An exact version (`[1.2.3]`), as lock files and assets files record what restore resolved. */
export function exactSpec(version: string): VersionSpec | undefined {
  return parseVersionSpec(`[${version}]`);
}

export function describeSpec(spec: VersionSpec): string {
  switch (spec.kind) {
    case 'range':
      return spec.range.original.trim();
    case 'float':
      return spec.float.original.trim();
    case 'latest':
      return 'latest stable';
  }
}

/** The version NuGet would pick from `versions` (lowercase normalized, as a flat container lists them). */
export function chooseVersion(spec: VersionSpec, versions: readonly string[]): string | undefined {
  switch (spec.kind) {
    case 'range':
      return lowestApplicable(spec.range, versions);
    case 'float':
      return highestFloating(spec.float, versions);
    case 'latest': {
      let highest: NuGetVersion | undefined;
      let highestStable: NuGetVersion | undefined;
      for (const text of versions) {
        const v = parseVersion(text);
        if (v === undefined) continue;
        if (highest === undefined || compareVersions(v, highest) > 0) highest = v;
        if (!isPrerelease(v) && (highestStable === undefined || compareVersions(v, highestStable) > 0)) highestStable = v;
      }
      return (highestStable ?? highest)?.original;
    }
  }
}
