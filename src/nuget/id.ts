/**
 * Package id rules. NuGet.Packaging's PackageIdValidator uses `^\w+([.-]\w+)*$` with a 100-character limit;
 * .NET's `\w` is Unicode-aware, but we accept ASCII word characters only, as nuget.org does in practice,
 * so an id can never smuggle a path separator, `%`, whitespace or a look-alike character into a URL or cache key.
 */

export const MAX_ID_LENGTH = 100;

// Without the `u` flag, JavaScript's \w is exactly [A-Za-z0-9_]. The separators cannot repeat or sit at either end,
// which rules out ".", "..", ".a" and "a..b".
const ID_PATTERN = /^\w+(?:[.-]\w+)*$/;

/**
 * @example isValidId('Newtonsoft.Json') // true
 * @example isValidId('../etc') // false
 */
export function isValidId(id: string): boolean {
  // The length check comes first so the regex never runs on huge input.
  return id.length >= 1 && id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id);
}

/**
 * The lowercase form used in flat-container and registration URLs (ToLowerInvariant).
 * @example normalizeId('Newtonsoft.Json') // 'newtonsoft.json'
 */
export function normalizeId(id: string): string {
  // toLowerCase is locale-independent in JavaScript; for valid (ASCII) ids it matches .NET's ToLowerInvariant exactly.
  return id.toLowerCase();
}
