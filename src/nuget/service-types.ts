/**
 * Service index `@type` strings, per V3 resource (protocol.md §0.1, §1.2).
 *
 * Two different questions, two tables:
 * - LOOKUP: reading an *upstream's* index, which entry do we prefer? First type present wins.
 * - ADVERTISE: writing *nugate's* index, which aliases must be listed so that every client finds the resource?
 *   NuGet.Protocol (ServiceTypes.cs) only matches some of the documented aliases, other tools match others, so we
 *   list all of them, each with the same `@id`.
 * Type matching is case-sensitive (the client compares Ordinal), so these strings must be exact.
 */

/** Preference order when reading an upstream's service index. */
export const LOOKUP = {
  packageBaseAddress: ['PackageBaseAddress/3.0.0', 'PackageBaseAddress/Versioned'],
  // nuget.org's /Versioned (clientVersion 4.3.0-alpha) points at the gz-semver2 hive, like /3.6.0.
  registrationSemVer2: ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned'],
  // GitHub Packages offers only these SemVer1-typed hives, but they serve SemVer2 packages too; the parser
  // falls back to this list for the SemVer2 hive when the upstream has neither 3.6.0 nor Versioned.
  registrationSemVer1: [
    'RegistrationsBaseUrl/3.4.0',
    'RegistrationsBaseUrl/3.0.0-rc',
    'RegistrationsBaseUrl/3.0.0-beta',
    'RegistrationsBaseUrl',
  ],
  // 3.5.0 first: it is the one that honours `packageType` (search-query-service-resource.md).
  search: [
    'SearchQueryService/3.5.0',
    'SearchQueryService/Versioned',
    'SearchQueryService/3.4.0',
    'SearchQueryService/3.0.0-rc',
    'SearchQueryService/3.0.0-beta',
    'SearchQueryService',
  ],
  autocomplete: [
    'SearchAutocompleteService/3.5.0',
    'SearchAutocompleteService/Versioned',
    'SearchAutocompleteService/3.0.0-rc',
    'SearchAutocompleteService/3.0.0-beta',
    'SearchAutocompleteService',
  ],
  vulnerabilityInfo: ['VulnerabilityInfo/6.7.0'],
  packagePublish: ['PackagePublish/2.0.0', 'PackagePublish/Versioned'],
  symbolPackagePublish: ['SymbolPackagePublish/4.9.0'],
  catalog: ['Catalog/3.0.0'],
  readmeTemplate: ['ReadmeUriTemplate/6.13.0'],
} as const satisfies Record<string, readonly string[]>;

/** Every alias nugate lists for a resource it serves; all aliases of one resource share one `@id`. */
export const ADVERTISE = {
  // PackageBaseAddress/3.0.0 must appear exactly once (checklist 4). /Versioned is matched first by
  // NuGet.Protocol; with the same @id and no clientVersion it changes nothing but keeps the "every alias" rule.
  packageBaseAddress: ['PackageBaseAddress/3.0.0', 'PackageBaseAddress/Versioned'],
  // Both on the SemVer2 hive (checklist 5). The client tries /Versioned before /3.6.0.
  registrationSemVer2: ['RegistrationsBaseUrl/3.6.0', 'RegistrationsBaseUrl/Versioned'],
  // The SemVer1 hive hides SemVer2 packages (registration-base-url-resource.md).
  registrationSemVer1: [
    'RegistrationsBaseUrl',
    'RegistrationsBaseUrl/3.0.0-beta',
    'RegistrationsBaseUrl/3.0.0-rc',
    'RegistrationsBaseUrl/3.4.0',
  ],
  // NuGet.Protocol only matches /Versioned, /3.4.0 and /3.0.0-beta; the docs list bare, -rc and 3.5.0 (checklist 6).
  search: [
    'SearchQueryService',
    'SearchQueryService/3.0.0-beta',
    'SearchQueryService/3.0.0-rc',
    'SearchQueryService/3.4.0',
    'SearchQueryService/3.5.0',
    'SearchQueryService/Versioned',
  ],
  // NuGet.Protocol only matches /Versioned and /3.0.0-beta (checklist 7).
  autocomplete: [
    'SearchAutocompleteService',
    'SearchAutocompleteService/3.0.0-beta',
    'SearchAutocompleteService/3.0.0-rc',
    'SearchAutocompleteService/3.5.0',
    'SearchAutocompleteService/Versioned',
  ],
  packagePublish: ['PackagePublish/2.0.0', 'PackagePublish/Versioned'],
  symbolPackagePublish: ['SymbolPackagePublish/4.9.0'],
  vulnerabilityInfo: ['VulnerabilityInfo/6.7.0'],
  readmeTemplate: ['ReadmeUriTemplate/6.13.0'],
} as const satisfies Record<string, readonly string[]>;

/**
 * Templates for web pages a person opens in a browser. nugate does not serve these pages, so the upstream's
 * entries are copied verbatim (design.md §2). API templates such as nuget.org's undocumented
 * Package(Version)DisplayMetadataUriTemplate point at API hosts and are dropped, not copied.
 */
export const BROWSER_TEMPLATE_TYPES = [
  'PackageDetailsUriTemplate/5.1.0',
  'OwnerDetailsUriTemplate/6.11.0',
] as const;

/** Every ReportAbuseUriTemplate alias (nuget.org: /3.0.0-beta, /3.0.0-rc; client: /Versioned, /3.0.0). */
export const REPORT_ABUSE_TEMPLATE_FAMILY = 'ReportAbuseUriTemplate';

export function isBrowserTemplateType(type: string): boolean {
  if ((BROWSER_TEMPLATE_TYPES as readonly string[]).includes(type)) return true;
  return type === REPORT_ABUSE_TEMPLATE_FAMILY || type.startsWith(`${REPORT_ABUSE_TEMPLATE_FAMILY}/`);
}
