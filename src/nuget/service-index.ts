/**
 * The service index (protocol.md §1.1, §1.2): reading an upstream's index into the resource URLs nugate needs
 * (parseServiceIndex), and writing nugate's own (feedUrls + buildServiceIndex).
 */
import { directoryOf, isAbsoluteHttpUrl, splitHttpUrl, stripQueryAndFragment, withTrailingSlash } from './rewrite.ts';
import { ADVERTISE, isBrowserTemplateType, LOOKUP } from './service-types.ts';
import { isJsonObject } from './json.ts';

export interface ServiceIndexEntry {
  '@id': string;
  '@type': string | string[];
  comment?: string;
  clientVersion?: string | string[];
}

export class InvalidServiceIndexError extends Error {
  readonly code = 'INVALID_SERVICE_INDEX';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidServiceIndexError';
  }
}

export interface UpstreamResources {
  /** Flat container, always ending with '/'. */
  packageBaseAddress?: string;
  /** Registration hive with SemVer2 packages, ending with '/'. Falls back to the best SemVer1-typed hive. */
  registrationSemVer2?: string;
  /** Registration hive without SemVer2 packages, ending with '/'. */
  registrationSemVer1?: string;
  /** All distinct search endpoints, primary first, without query string. */
  search: string[];
  autocomplete: string[];
  vulnerabilityInfo?: string;
  /** Ending with '/', as the client sends `PUT {@id}/` (protocol.md §2.4). */
  packagePublish?: string;
  /** Ending with '/'. */
  symbolPackagePublish?: string;
  /** The catalog index URL, as advertised. */
  catalog?: string;
  /** ReadmeUriTemplate/6.13.0 `@id`, braces literal (addition to the agreed shape; optional). */
  readmeTemplate?: string;
  /** Browser-page templates, copied verbatim into nugate's index. */
  browserTemplates: ServiceIndexEntry[];
  /**
   * Every http(s) URL prefix of this upstream that nugate may fetch (SSRF allow-list), deduplicated: the resource
   * `@id`s above, file-like ones reduced to their directory. For VulnerabilityInfo: the `@id`'s origin plus its
   * first path segment, because nuget.org's pages live beside the index (`/v3/vulnerabilities/index.json` →
   * `/v3-vulnerabilities/…`), so `https://api.nuget.org/v3` is allowed. Templates are never bases.
   */
  bases: string[];
}

/** One usable resource entry of an upstream index. */
interface Entry {
  readonly id: string;
  readonly types: readonly string[];
  readonly clientVersion: string | undefined;
  readonly raw: Readonly<Record<string, unknown>>;
}

// The client accepts 3.0.0, 3.0.0-beta, 3.0.0-beta.1 …: SemVer with major 3 (ServiceIndexResourceV3Provider).
const INDEX_VERSION = /^3\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;


function stringsOf(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

// --- clientVersion ordering --------------------------------------------------------------------------------
// For `/Versioned` types the client picks the entry with the highest clientVersion ≤ its own; absent = 0.0.0
// (protocol.md §1.1). nugate reads upstream indexes as "the newest client", so it wants the highest one.

const CLIENT_VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]*)?$/;

function versionKey(value: string | undefined): { release: number[]; pre: string[] } {
  const m = value === undefined ? null : CLIENT_VERSION.exec(value.trim());
  if (m === null) return { release: [0, 0, 0, 0], pre: [] };
  return { release: [m[1], m[2], m[3], m[4]].map((p) => (p === undefined ? 0 : Number(p))), pre: m[5]?.split('.') ?? [] };
}

/** SemVer 2.0.0 §11 precedence (labels case-insensitive, as NuGet compares them); unparsable sorts as 0.0.0. */
function compareClientVersions(a: string | undefined, b: string | undefined): number {
  const x = versionKey(a);
  const y = versionKey(b);
  for (let i = 0; i < 4; i++) {
    const d = (x.release[i] ?? 0) - (y.release[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  // A release sorts after any of its prereleases.
  if (x.pre.length === 0 || y.pre.length === 0) return Math.sign(y.pre.length - x.pre.length);
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i]?.toLowerCase();
    const q = y.pre[i]?.toLowerCase();
    if (p === undefined || q === undefined) return p === undefined ? -1 : 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn && Number(p) !== Number(q)) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    if (!pn && p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

function highestClientVersion(field: unknown): string | undefined {
  let best: string | undefined;
  for (const v of stringsOf(field)) if (best === undefined || compareClientVersions(v, best) > 0) best = v;
  return best;
}

// --- reading an upstream index ------------------------------------------------------------------------------

/** Entries the client would use: absolute http(s) `@id`, at least one string `@type`. Others are skipped silently. */
function usableEntries(resources: readonly unknown[]): Entry[] {
  const entries: Entry[] = [];
  for (const raw of resources) {
    if (!isJsonObject(raw)) continue;
    const id = raw['@id'];
    const types = stringsOf(raw['@type']);
    if (typeof id !== 'string' || types.length === 0 || !isAbsoluteHttpUrl(id)) continue;
    entries.push({ id, types, clientVersion: highestClientVersion(raw['clientVersion']), raw });
  }
  return entries;
}

const isTemplate = (id: string): boolean => id.includes('{');

/** Entries carrying `type`, highest clientVersion first (stable, so document order otherwise). */
function ofType(entries: readonly Entry[], type: string, templates: boolean): Entry[] {
  return entries
    .filter((e) => e.types.includes(type) && isTemplate(e.id) === templates)
    .sort((a, b) => compareClientVersions(b.clientVersion, a.clientVersion));
}

/** The first entry of the first type (in preference order) that the upstream offers. */
function pick(entries: readonly Entry[], types: readonly string[], templates = false): string | undefined {
  for (const type of types) {
    const found = ofType(entries, type, templates)[0];
    if (found !== undefined) return found.id;
  }
  return undefined;
}

function pickAll(entries: readonly Entry[], types: readonly string[]): string[] {
  const ids = types.flatMap((type) => ofType(entries, type, false).map((e) => stripQueryAndFragment(e.id)));
  return [...new Set(ids)];
}

/** The client appends '/api/v2/package/' to a publish @id with an empty path (PackageUpdateResource). */
function publishBase(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  const clean = stripQueryAndFragment(id);
  const parts = splitHttpUrl(clean);
  if (parts !== undefined && (parts.rest === '' || parts.rest === '/')) return `${withTrailingSlash(clean)}api/v2/package/`;
  return withTrailingSlash(clean);
}

function vulnerabilityBase(id: string): string {
  const url = new URL(id);
  const segments = url.pathname.split('/').filter((s) => s !== '');
  // Only a directory segment widens the base; `https://h/vuln.json` allows just `https://h/`.
  return segments.length >= 2 ? `${url.origin}/${segments[0] ?? ''}` : `${url.origin}/`;
}

function browserTemplates(entries: readonly Entry[]): ServiceIndexEntry[] {
  const out: ServiceIndexEntry[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    const types = e.types.filter(isBrowserTemplateType);
    const first = types[0];
    if (first === undefined) continue;
    const key = JSON.stringify([e.id, types]);
    if (seen.has(key)) continue;
    seen.add(key);
    const entry: ServiceIndexEntry = { '@id': e.id, '@type': types.length === 1 ? first : types };
    const comment = e.raw['comment'];
    if (typeof comment === 'string') entry.comment = comment;
    const clientVersions = stringsOf(e.raw['clientVersion']);
    if (clientVersions.length > 0) entry.clientVersion = Array.isArray(e.raw['clientVersion']) ? clientVersions : clientVersions[0];
    out.push(entry);
  }
  return out;
}

/**
 * Reads an upstream service index. Throws InvalidServiceIndexError when the document is not an object, its
 * `version` is not SemVer with major 3, or `resources` is not an array; tolerates everything else.
 */
export function parseServiceIndex(json: unknown): UpstreamResources {
  if (!isJsonObject(json)) throw new InvalidServiceIndexError('service index is not a JSON object');
  const version = json['version'];
  if (typeof version !== 'string' || !INDEX_VERSION.test(version)) {
    throw new InvalidServiceIndexError(`service index version must be SemVer with major 3, got ${JSON.stringify(version) ?? 'undefined'}`);
  }
  const resources = json['resources'];
  if (!Array.isArray(resources)) throw new InvalidServiceIndexError('service index "resources" is not an array');

  const entries = usableEntries(resources);
  const flat = pick(entries, LOOKUP.packageBaseAddress);
  const semver1 = pick(entries, LOOKUP.registrationSemVer1);
  const semver2 = pick(entries, LOOKUP.registrationSemVer2) ?? semver1;
  const vulnerabilityInfo = pick(entries, LOOKUP.vulnerabilityInfo);
  const catalog = pick(entries, LOOKUP.catalog);
  const readmeTemplate = pick(entries, LOOKUP.readmeTemplate, true);

  const result: UpstreamResources = {
    search: pickAll(entries, LOOKUP.search),
    autocomplete: pickAll(entries, LOOKUP.autocomplete),
    browserTemplates: browserTemplates(entries),
    bases: [],
  };
  if (flat !== undefined) result.packageBaseAddress = withTrailingSlash(stripQueryAndFragment(flat));
  if (semver2 !== undefined) result.registrationSemVer2 = withTrailingSlash(stripQueryAndFragment(semver2));
  if (semver1 !== undefined) result.registrationSemVer1 = withTrailingSlash(stripQueryAndFragment(semver1));
  if (vulnerabilityInfo !== undefined) result.vulnerabilityInfo = vulnerabilityInfo;
  const publish = publishBase(pick(entries, LOOKUP.packagePublish));
  if (publish !== undefined) result.packagePublish = publish;
  const symbols = publishBase(pick(entries, LOOKUP.symbolPackagePublish));
  if (symbols !== undefined) result.symbolPackagePublish = symbols;
  if (catalog !== undefined) result.catalog = catalog;
  if (readmeTemplate !== undefined) result.readmeTemplate = readmeTemplate;

  const bases = [
    result.packageBaseAddress,
    result.registrationSemVer2,
    result.registrationSemVer1,
    ...result.search,
    ...result.autocomplete,
    result.packagePublish,
    result.symbolPackagePublish,
    catalog === undefined ? undefined : directoryOf(catalog),
    vulnerabilityInfo === undefined ? undefined : vulnerabilityBase(vulnerabilityInfo),
  ];
  result.bases = [...new Set(bases.filter((b): b is string => b !== undefined))];
  return result;
}

// --- writing nugate's index ---------------------------------------------------------------------------------

/** nugate's own resource URLs under one feed base (design.md §2). */
export interface FeedUrls {
  index: string;
  flat: string;
  registration: string;
  registrationSemVer1: string;
  search: string;
  autocomplete: string;
  vulnerability: string;
  publish: string;
  symbolPublish: string;
  readmeTemplate: string;
}

/**
 * Resource URLs for a feed base, which must be absolute http(s) and end with '/'. Every resource sits under
 * the index's directory, so credentials cached for it cover them all (protocol.md §2.3, checklist 58).
 *
 * @example
 * feedUrls('https://nuget.example.com/v3/').flat // 'https://nuget.example.com/v3/flatcontainer/'
 */
export function feedUrls(base: string): FeedUrls {
  if (typeof base !== 'string' || !isAbsoluteHttpUrl(base) || !base.endsWith('/') || /[?#]/.test(base)) {
    throw new TypeError(`expected base to be an absolute http(s) URL ending with '/', without query, got ${JSON.stringify(base)}`);
  }
  return {
    index: `${base}index.json`,
    flat: `${base}flatcontainer/`,
    registration: `${base}registration/`,
    registrationSemVer1: `${base}registration-semver1/`,
    search: `${base}search`,
    autocomplete: `${base}autocomplete`,
    vulnerability: `${base}vulnerabilities/index.json`,
    publish: `${base}package`,
    symbolPublish: `${base}symbolpackage`,
    readmeTemplate: `${base}flatcontainer/{lower_id}/{lower_version}/readme`,
  };
}

export interface BuildOptions {
  /** Advertise PackagePublish (checklist 8). */
  publish: boolean;
  /** Advertise SymbolPackagePublish: only when symbol push works end to end, since the client then pushes .snupkg too. */
  symbols: boolean;
  /** Advertise VulnerabilityInfo: only when the index has 1–16 pages (vulnerability-info.md). */
  vulnerability: boolean;
  /** Appended verbatim, braces literal. */
  browserTemplates: ServiceIndexEntry[];
}

function aliases(id: string, types: readonly string[], comment: string): ServiceIndexEntry[] {
  // No clientVersion anywhere: absent counts as 0.0.0, usable by every client (checklist 5).
  return types.map((type) => ({ '@id': id, '@type': type, comment }));
}

/**
 * nugate's service index: one entry per advertised alias, every alias of a resource on the same `@id`
 * (protocol.md §0.1). Never LegacyGallery, Catalog or RepositorySignatures (§0.4, design.md §2).
 */
export function buildServiceIndex(
  urls: FeedUrls,
  opts: BuildOptions,
): { version: '3.0.0'; resources: ServiceIndexEntry[]; '@context': object } {
  const resources: ServiceIndexEntry[] = [
    ...aliases(urls.flat, ADVERTISE.packageBaseAddress, 'Package content (flat container): version lists, .nupkg and .nuspec files'),
    ...aliases(urls.registration, ADVERTISE.registrationSemVer2, 'Package metadata (registration), SemVer 2.0.0 packages included'),
    ...aliases(urls.registrationSemVer1, ADVERTISE.registrationSemVer1, 'Package metadata (registration), SemVer 2.0.0 packages excluded'),
    ...aliases(urls.search, ADVERTISE.search, 'Package search'),
    ...aliases(urls.autocomplete, ADVERTISE.autocomplete, 'Package id and version autocomplete'),
    ...aliases(urls.readmeTemplate, ADVERTISE.readmeTemplate, 'Package README; 404 when the package has none'),
  ];
  if (opts.vulnerability) {
    resources.push(...aliases(urls.vulnerability, ADVERTISE.vulnerabilityInfo, 'Known vulnerabilities, for NuGetAudit'));
  }
  if (opts.publish) resources.push(...aliases(urls.publish, ADVERTISE.packagePublish, 'Push, delete (unlist) and relist packages'));
  if (opts.symbols) resources.push(...aliases(urls.symbolPublish, ADVERTISE.symbolPackagePublish, 'Push symbol packages (.snupkg)'));
  for (const t of opts.browserTemplates) {
    const entry: ServiceIndexEntry = { '@id': t['@id'], '@type': Array.isArray(t['@type']) ? [...t['@type']] : t['@type'] };
    if (t.comment !== undefined) entry.comment = t.comment;
    if (t.clientVersion !== undefined) entry.clientVersion = Array.isArray(t.clientVersion) ? [...t.clientVersion] : t.clientVersion;
    resources.push(entry);
  }
  return {
    version: '3.0.0',
    resources,
    '@context': { '@vocab': 'http://schema.nuget.org/services#', comment: 'http://www.w3.org/2000/01/rdf-schema#comment' },
  };
}
