/**
 * NuGet's own version rules (NuGet.Versioning), not npm semver.
 *
 * Semantics follow NuGet.Client `src/NuGet.Core/NuGet.Versioning` (NuGetVersionFactory.cs, VersionComparer.cs,
 * VersionRangeFactory.cs) and https://learn.microsoft.com/nuget/concepts/package-versioning.
 * Deliberately stricter than NuGet in one way: NuGet trims the input and lets System.Version accept a sign or
 * whitespace inside numeric parts; we reject all of that, because versions reach us from URLs and JSON, where
 * such strings only ever mean a bug or an attack.
 */

export interface NuGetVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly revision: number;
  /** Prerelease labels in their original case; empty for a stable version. */
  readonly release: readonly string[];
  readonly metadata: string | undefined;
  /** The text that was parsed, unchanged. */
  readonly original: string;
}

export interface VersionRange {
  readonly min?: NuGetVersion;
  readonly minInclusive: boolean;
  readonly max?: NuGetVersion;
  readonly maxInclusive: boolean;
  readonly original: string;
}

// System.Version components are Int32.
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
const DIGITS = /^[0-9]+$/;
const LABEL = /^[0-9A-Za-z-]+$/;

/**
 * Parses a NuGet version: 1 to 4 numeric parts, optional `-prerelease`, optional `+metadata`.
 * @example parseVersion('1.0.0.0-beta+sha')?.revision // 0
 */
export function parseVersion(text: string): NuGetVersion | undefined {
  // The version part ends at the first '-' or '+'; the release part at the first '+' after it (ParseSections).
  const plus = text.indexOf('+');
  const beforeMetadata = plus < 0 ? text : text.slice(0, plus);
  const metadata = plus < 0 ? undefined : text.slice(plus + 1);
  const dash = beforeMetadata.indexOf('-');
  const numbers = dash < 0 ? beforeMetadata : beforeMetadata.slice(0, dash);
  const releaseText = dash < 0 ? undefined : beforeMetadata.slice(dash + 1);

  const parts = numbers.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    // Leading zeros are fine in the numeric parts ("01.002" is 1.2.0); the value must fit in an Int32.
    if (!DIGITS.test(part)) return undefined;
    const value = Number(part);
    if (value > INT32_MAX) return undefined;
    values.push(value);
  }

  let release: string[] = [];
  if (releaseText !== undefined) {
    release = releaseText.split('.');
    if (!release.every(isValidReleaseLabel)) return undefined;
  }
  // Metadata labels may have leading zeros (IsValid(metadata, allowLeadingZeros: true)).
  if (metadata !== undefined && !metadata.split('.').every((label) => LABEL.test(label))) return undefined;

  return {
    major: values[0] ?? 0,
    minor: values[1] ?? 0,
    patch: values[2] ?? 0,
    revision: values[3] ?? 0,
    release,
    metadata,
    original: text,
  };
}

/** Non-empty, [0-9A-Za-z-] only; an all-digit label may not have a leading zero ("0" ok, "01" not, "0a" ok). */
function isValidReleaseLabel(label: string): boolean {
  if (!LABEL.test(label)) return false;
  return !(label.length > 1 && label.startsWith('0') && DIGITS.test(label));
}

/**
 * NuGet's ToNormalizedString: no leading zeros, a 4th part only when it is not 0, never metadata.
 * @example normalize(parseVersion('01.002.0003.0-Beta+x')!) // '1.2.3-Beta'
 */
export function normalize(v: NuGetVersion): string {
  let text = `${v.major}.${v.minor}.${v.patch}`;
  if (v.revision !== 0) text += `.${v.revision}`;
  if (v.release.length > 0) text += `-${v.release.join('.')}`;
  return text;
}

/** NuGet's ToFullString: the normalized version plus `+metadata` when present. */
export function toFullString(v: NuGetVersion): string {
  return v.metadata === undefined ? normalize(v) : `${normalize(v)}+${v.metadata}`;
}

export function normalizeVersionString(text: string): string | undefined {
  const v = parseVersion(text);
  return v === undefined ? undefined : normalize(v);
}

/**
 * The flat-container form: normalized, then ToLowerInvariant (package-base-address-resource.md).
 * @example lowerNormalized('4.5.3-UwpPreview2') // '4.5.3-uwppreview2'
 */
export function lowerNormalized(text: string): string | undefined {
  // Versions are ASCII once parsed, so toLowerCase equals .NET's ToLowerInvariant here.
  return normalizeVersionString(text)?.toLowerCase();
}

/**
 * VersionComparer.Default: numbers, then prerelease < release, then labels pairwise; metadata is ignored.
 * Returns a negative number, 0 or a positive number.
 */
export function compareVersions(a: NuGetVersion, b: NuGetVersion): number {
  const numeric =
    a.major - b.major || a.minor - b.minor || a.patch - b.patch || a.revision - b.revision;
  if (numeric !== 0) return Math.sign(numeric);
  const aPre = a.release.length > 0;
  const bPre = b.release.length > 0;
  if (aPre !== bPre) return aPre ? -1 : 1;
  return compareReleaseLabels(a.release, b.release);
}

function compareReleaseLabels(a: readonly string[], b: readonly string[]): number {
  const count = Math.max(a.length, b.length);
  for (let i = 0; i < count; i++) {
    const x = a[i];
    const y = b[i];
    // The shorter list sorts first when all shared labels are equal (1.0.0-alpha < 1.0.0-alpha.1).
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const result = compareLabel(x, y);
    if (result !== 0) return result;
  }
  return 0;
}

function compareLabel(x: string, y: string): number {
  const xNum = labelAsInt32(x);
  const yNum = labelAsInt32(y);
  if (xNum !== undefined && yNum !== undefined) return Math.sign(xNum - yNum);
  // Numeric labels come before alphanumeric ones.
  if (xNum !== undefined) return -1;
  if (yNum !== undefined) return 1;
  return compareOrdinalIgnoreCase(x, y);
}

/**
 * NuGet tests a label with int.TryParse, so "-1" counts as numeric and "2147483648" (out of Int32 range) does not.
 * Labels can only hold [0-9A-Za-z-], so an optional '-' sign is the only extra form int.TryParse accepts here.
 */
function labelAsInt32(label: string): number | undefined {
  if (!/^-?[0-9]+$/.test(label)) return undefined;
  const value = Number(label);
  return value >= INT32_MIN && value <= INT32_MAX ? value : undefined;
}

/**
 * StringComparer.OrdinalIgnoreCase upper-cases before comparing code units. Labels are ASCII [0-9A-Za-z-], and no
 * allowed character sits between 'Z' and 'a', so upper-casing gives the same order .NET does.
 */
function compareOrdinalIgnoreCase(x: string, y: string): number {
  const a = x.toUpperCase();
  const b = y.toUpperCase();
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares two version strings; unparsable strings sort before every version, and among themselves by ordinal. */
export function compareVersionStrings(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (va !== undefined && vb !== undefined) return compareVersions(va, vb);
  if (va !== undefined) return 1;
  if (vb !== undefined) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function isPrerelease(v: NuGetVersion): boolean {
  return v.release.length > 0;
}

/** SemVer 2.0.0-only versions: more than one release label, or build metadata (package-versioning.md#semantic-versioning-200). */
export function isSemVer2(v: NuGetVersion): boolean {
  return v.release.length > 1 || v.metadata !== undefined;
}

/**
 * NuGet range syntax (VersionRange.TryParse without floating versions):
 * "1.0" (1.0 ≤ x), "[1.0]" (x = 1.0), "(1.0,)" (1.0 < x), "[1.0,2.0)" (1.0 ≤ x < 2.0), "(,1.0]" (x ≤ 1.0).
 * Whitespace around the whole range and around each bound is allowed, as NuGet allows it ("[13.0.1, )").
 * Floating ranges ("1.*") are not supported and return undefined.
 */
export function parseRange(text: string): VersionRange | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;

  const open = trimmed[0];
  if (open !== '[' && open !== '(') {
    const min = parseVersion(trimmed);
    return min === undefined ? undefined : { min, minInclusive: true, maxInclusive: false, original: text };
  }

  const close = trimmed[trimmed.length - 1];
  if (trimmed.length < 2 || (close !== ']' && close !== ')')) return undefined;
  const minInclusive = open === '[';
  const maxInclusive = close === ']';
  const parts = trimmed.slice(1, -1).split(',').map((part) => part.trim());
  if (parts.length > 2 || parts.every((part) => part === '')) return undefined;
  // "[1.0]" is an exact match; "(1.0)", "(1.0]" and "[1.0)" are meaningless and NuGet rejects them.
  if (parts.length === 1 && !(minInclusive && maxInclusive)) return undefined;

  const minText = parts[0] ?? '';
  const maxText = parts.length === 2 ? (parts[1] ?? '') : minText;
  const min = minText === '' ? undefined : parseVersion(minText);
  const max = maxText === '' ? undefined : parseVersion(maxText);
  if ((minText !== '' && min === undefined) || (maxText !== '' && max === undefined)) return undefined;

  if (min !== undefined && max !== undefined) {
    const order = compareVersions(min, max);
    // An empty range ("[2.0,1.0]", "(1.0,1.0]") is a syntax error for NuGet, not a range matching nothing.
    if (order > 0 || (order === 0 && minInclusive !== maxInclusive)) return undefined;
  }

  return {
    ...(min === undefined ? {} : { min }),
    minInclusive,
    ...(max === undefined ? {} : { max }),
    maxInclusive,
    original: text,
  };
}

/** VersionRangeBase.Satisfies: bounds only; prereleases are not excluded, unlike npm semver. */
export function satisfies(range: VersionRange, v: NuGetVersion): boolean {
  if (range.min !== undefined) {
    const order = compareVersions(range.min, v);
    if (range.minInclusive ? order > 0 : order >= 0) return false;
  }
  if (range.max !== undefined) {
    const order = compareVersions(range.max, v);
    if (range.maxInclusive ? order < 0 : order <= 0) return false;
  }
  return true;
}

/**
 * True when either bound of a dependency range is a SemVer2 version. Such a dependency makes the whole package
 * SemVer2, hidden from the SemVer1 registration hives and from search without semVerLevel=2.0.0
 * (package-versioning.md; NuGetGallery's VersionRange IsSemVer2 extension). Unparsable ranges are not SemVer2.
 */
export function rangeIsSemVer2(text: string): boolean {
  const range = parseRange(text);
  if (range === undefined) return false;
  return (range.min !== undefined && isSemVer2(range.min)) || (range.max !== undefined && isSemVer2(range.max));
}

/**
 * The version NuGet's resolver picks for a dependency range: the lowest listed version that satisfies it
 * (dependency-resolution.md, "lowest applicable version"). Prereleases are candidates only when a bound of the range
 * is itself a prerelease (NuGet's default for dependencies of stable packages). Undefined when none applies.
 */
export function lowestApplicable(range: VersionRange, versions: readonly string[]): string | undefined {
  const allowPrerelease = (range.min !== undefined && isPrerelease(range.min)) || (range.max !== undefined && isPrerelease(range.max));
  let best: { text: string; v: NuGetVersion } | undefined;
  for (const text of versions) {
    const v = parseVersion(text);
    if (v === undefined || (!allowPrerelease && isPrerelease(v)) || !satisfies(range, v)) continue;
    if (best === undefined || compareVersions(v, best.v) < 0) best = { text, v };
  }
  return best?.text;
}

/**
 * A floating version (NuGet's FloatRange): `*`, `1.*`, `1.2.*`, `1.2.3.*`, `1.0.0-beta*`, and the same with a
 * prerelease float (`*-*`, `1.*-*`, `1.2.*-rc*`). Restore picks the highest version that matches, stable only unless
 * the float has a release part (https://learn.microsoft.com/nuget/concepts/package-versioning#floating-version-resolutions).
 */
export interface FloatRange {
  /** The fixed leading numeric parts (`1.2.*` → [1, 2]; `1.0.0-beta*` → [1, 0, 0, 0]). */
  readonly numbers: readonly number[];
  /** Undefined: stable versions only. A string: prereleases whose release text starts with it (case-insensitive) too. */
  readonly releasePrefix: string | undefined;
  readonly original: string;
}

/**
 * Parses a floating version; undefined when the text is not one (no `*`, or a malformed float).
 * @example parseFloatRange('1.2.*')?.numbers // [1, 2]
 */
export function parseFloatRange(text: string): FloatRange | undefined {
  const t = text.trim();
  if (!t.includes('*')) return undefined;
  const dash = t.indexOf('-');
  const numberPart = dash < 0 ? t : t.slice(0, dash);
  const releasePart = dash < 0 ? undefined : t.slice(dash + 1);
  let releasePrefix: string | undefined;
  if (releasePart !== undefined) {
    // Only a trailing '*' may float the release: `-*`, `-beta*`, `-rc.1*`.
    if (!releasePart.endsWith('*') || releasePart.slice(0, -1).includes('*')) return undefined;
    releasePrefix = releasePart.slice(0, -1);
    if (releasePrefix !== '' && !/^[0-9A-Za-z.-]+$/.test(releasePrefix)) return undefined;
  }
  const parts = numberPart.split('.');
  if (parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (part === '*') {
      // The '*' ends the numeric parts (`1.*.2` is no float).
      if (i !== parts.length - 1) return undefined;
      return { numbers, releasePrefix, original: text };
    }
    if (!DIGITS.test(part) || Number(part) > INT32_MAX) return undefined;
    numbers.push(Number(part));
  }
  // No numeric '*': a prerelease float on a full version (`1.0.0-beta*`); the numbers are exact.
  if (releasePrefix === undefined) return undefined;
  while (numbers.length < 4) numbers.push(0);
  return { numbers, releasePrefix, original: text };
}

/** FloatRange.Satisfies, simplified to the forms parseFloatRange accepts. */
export function floatSatisfies(range: FloatRange, v: NuGetVersion): boolean {
  const parts = [v.major, v.minor, v.patch, v.revision];
  if (!range.numbers.every((n, i) => parts[i] === n)) return false;
  if (!isPrerelease(v)) return true;
  if (range.releasePrefix === undefined) return false;
  return v.release.join('.').toLowerCase().startsWith(range.releasePrefix.toLowerCase());
}

/**
 * The version restore picks for a floating reference: the highest listed version that matches the float.
 * @example highestFloating(parseFloatRange('1.*')!, ['1.0.0', '1.5.0', '2.0.0']) // '1.5.0'
 */
export function highestFloating(range: FloatRange, versions: readonly string[]): string | undefined {
  let best: { text: string; v: NuGetVersion } | undefined;
  for (const text of versions) {
    const v = parseVersion(text);
    if (v === undefined || !floatSatisfies(range, v)) continue;
    if (best === undefined || compareVersions(v, best.v) > 0) best = { text, v };
  }
  return best?.text;
}
