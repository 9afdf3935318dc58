/**
 * A loopback NuGet V3 feed over real packages, shaped like nuget.org: a service index whose resources are
 * absolute URLs on the feed's own origin, a lowercase-only flat container, an inlined registration hive
 * (optionally served gzip-encoded whatever the client accepts, like nuget.org's `-gz-` hives), search,
 * autocomplete, vulnerability info and a publish endpoint that answers 404.
 *
 * It records every request, so a test can prove who talked to it and how often. A real `dotnet restore` passes
 * against it directly (test/e2e/static-feed.test.ts), which validates the harness independently of nugate.
 *
 * Shapes follow shared/docs/protocol.md §1 and the nuget.org documents it cites.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import {
  compareVersions,
  isPrerelease,
  isSemVer2,
  loadPackageFromNupkg,
  loadPackages,
  normalizeVersion,
  type DependencyGroup,
  type LocalPackage,
} from './packages.ts';

export interface FeedPackage extends LocalPackage {
  listed: boolean;
  /** ISO timestamp; nuget.org uses 1900-01-01 for unlisted packages. */
  published: string;
}

export interface ServiceIndexResource {
  '@id': string;
  '@type': string | string[];
  comment?: string;
  clientVersion?: string;
}

/** One vulnerability entry as a VulnerabilityInfo page holds it, keyed by lowercase id. */
export interface VulnerabilityEntry {
  severity: 0 | 1 | 2 | 3;
  url: string;
  /** Affected version range, NuGet interval syntax, e.g. `(, 13.0.1)`. */
  versions: string;
}

export interface StaticFeedOptions {
  /** Packages to serve. Default: every package in the machine's test store (packages.ts). */
  packages?: readonly LocalPackage[];
  /** Loose .nupkg files to serve as well; their nuspec is read from the zip. */
  extraPackages?: Array<{ path: string; listed?: boolean }>;
  /** Versions to serve as unlisted (still in the flat index and registration, never in search). */
  unlisted?: Array<{ id: string; version: string }>;
  /** Serve registration documents with `Content-Encoding: gzip` regardless of `Accept-Encoding` (nuget.org's gz hives). */
  gzipRegistration?: boolean;
  /**
   * Origin of the browser-facing gallery (PackageDetailsUriTemplate, readmeUrl). Like nuget.org (api.nuget.org vs
   * www.nuget.org) it is a different host from the API; default `https://gallery.nuget.test` (never resolves).
   */
  galleryUrl?: string;
  /** Extra service index entries, appended after the built-in ones. */
  extraResources?: ServiceIndexResource[];
  /**
   * When given, the service index advertises only resources whose type name (the `@type` before any `/version`)
   * is in this list, e.g. `['PackageBaseAddress', 'RegistrationsBaseUrl']` for a feed without search, publish or
   * vulnerability info. The other endpoints keep answering if asked directly. Default: everything.
   */
  advertise?: string[];
  /** Contents of the one vulnerability page. Default `{}` (no known vulnerabilities). */
  vulnerabilities?: Record<string, VulnerabilityEntry[]>;
  /**
   * Called for every request after it is logged and before routing. Return true when it has answered the request
   * (fault injection: delays, 5xx, resets).
   */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

export interface RecordedRequest {
  method: string;
  /** Path and query as the client sent them, e.g. `/v3-flatcontainer/xunit/index.json`. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface StaticFeed {
  /** The feed's origin, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** The service index, `{url}/v3/index.json`. */
  indexUrl: string;
  flatContainerUrl: string;
  registrationUrl: string;
  searchUrl: string;
  autocompleteUrl: string;
  publishUrl: string;
  /** What the feed serves (live: `addPackage` appends). */
  packages: FeedPackage[];
  requests: RecordedRequest[];
  /** Requests whose url contains the substring, or that satisfy the predicate. */
  count(match: string | ((r: RecordedRequest) => boolean)): number;
  resetRequests(): void;
  addPackage(pkg: LocalPackage, opts?: { listed?: boolean }): void;
  close(): Promise<void>;
}

const PUBLISHED = '2024-01-15T10:20:30.123+00:00';
const UNLISTED_PUBLISHED = '1900-01-01T00:00:00+00:00';
const COMMIT_ID = '5e1bd0e7-3d0b-4f05-a8a4-2f4f1c6a9c11';
const COMMIT_TS = '2024-01-15T10:21:00.456+00:00';
const CATALOG_STAMP = '2024.01.15.10.21.00';
const VULN_STAMP = '2024.01.15.00.00.00';
const MAX_LEAVES_PER_PAGE = 64;
const MAX_INLINED_LEAVES = 127;

const REGISTRATION_CONTEXT = {
  '@vocab': 'http://schema.nuget.org/schema#',
  catalog: 'http://schema.nuget.org/catalog#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  items: { '@id': 'catalog:item', '@container': '@set' },
  commitTimeStamp: { '@id': 'catalog:commitTimeStamp', '@type': 'xsd:dateTime' },
  commitId: { '@id': 'catalog:commitId' },
  count: { '@id': 'catalog:count' },
  parent: { '@id': 'catalog:parent', '@type': '@id' },
  tags: { '@id': 'tag', '@container': '@set' },
  reasons: { '@container': '@set' },
  packageTargetFrameworks: { '@id': 'packageTargetFramework', '@container': '@set' },
  dependencyGroups: { '@id': 'dependencyGroup', '@container': '@set' },
  dependencies: { '@id': 'dependency', '@container': '@set' },
  packageContent: { '@type': '@id' },
  published: { '@type': 'xsd:dateTime' },
  registration: { '@type': '@id' },
};

/** Deterministic, nuget.org-sized download counts. Newtonsoft.Json exceeds 2^32 on purpose (protocol.md §1.5: int64). */
function downloadsFor(lowerId: string): number {
  if (lowerId === 'newtonsoft.json') return 6_123_456_789;
  const h = createHash('sha256').update(lowerId).digest();
  return 1_000_000 + (h.readUInt32BE(0) % 900_000_000);
}

/** Registration-style range: `2.9.3` → `[2.9.3, )`, `[2.9.3]` → `[2.9.3, 2.9.3]`, intervals with normalized bounds. */
export function registrationRange(range: string): string {
  const r = range.trim();
  if (r === '') return '(, )';
  const first = r[0];
  if (first !== '[' && first !== '(') return `[${normalizeVersion(r)}, )`;
  const last = r[r.length - 1];
  const inner = r.slice(1, -1);
  if (!inner.includes(',')) return `[${normalizeVersion(inner.trim())}, ${normalizeVersion(inner.trim())}]`;
  const [lo = '', hi = ''] = inner.split(',').map((s) => s.trim());
  return `${first}${lo === '' ? '' : normalizeVersion(lo)}, ${hi === '' ? '' : normalizeVersion(hi)}${last ?? ')'}`;
}

function splitList(s: string | undefined, sep: RegExp): string[] {
  return s === undefined ? [] : s.split(sep).map((x) => x.trim()).filter((x) => x !== '');
}

function boolParam(v: string | null): boolean {
  return v !== null && v.toLowerCase() === 'true';
}

/** nuget.org: semVerLevel parses as a version and >= 2.0.0 turns SemVer2 on. */
function semVer2Param(v: string | null): boolean {
  if (v === null || !/^\d+(\.\d+){0,3}/.test(v)) return false;
  return compareVersions(v, '2.0.0') >= 0;
}

/** nuget.org SearchParametersBuilder: take < 0 or > 1000 falls back to 20; negative skip becomes 0. */
function intParam(v: string | null, fallback: number, max: number): number {
  if (v === null || v === '') return fallback;
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n)) return fallback;
  if (n < 0) return fallback;
  return n > max ? fallback : n;
}

export async function startStaticFeed(opts: StaticFeedOptions = {}): Promise<StaticFeed> {
  const base = opts.packages ?? (await loadPackages());
  const unlisted = new Set((opts.unlisted ?? []).map((u) => `${u.id.toLowerCase()}/${normalizeVersion(u.version, true).toLowerCase()}`));
  const packages: FeedPackage[] = [];
  const add = (pkg: LocalPackage, listedOpt?: boolean): void => {
    const listed = listedOpt ?? !unlisted.has(`${pkg.lowerId}/${pkg.lowerVersion}`);
    const existing = packages.findIndex((p) => p.lowerId === pkg.lowerId && p.lowerVersion === pkg.lowerVersion);
    const entry: FeedPackage = { ...pkg, listed, published: listed ? PUBLISHED : UNLISTED_PUBLISHED };
    if (existing >= 0) packages[existing] = entry;
    else packages.push(entry);
  };
  for (const p of base) add(p);
  for (const extra of opts.extraPackages ?? []) add(await loadPackageFromNupkg(extra.path), extra.listed);

  const requests: RecordedRequest[] = [];
  let origin = '';
  const flatBase = (): string => `${origin}/v3-flatcontainer/`;
  const regBase = (): string => `${origin}/v3/registration/`;
  const gz = opts.gzipRegistration === true;
  const gallery = (opts.galleryUrl ?? 'https://gallery.nuget.test').replace(/\/+$/, '');

  const versionsOf = (lowerId: string): FeedPackage[] =>
    packages.filter((p) => p.lowerId === lowerId).sort((a, b) => compareVersions(a.version, b.version));

  const urls = {
    regIndex: (lowerId: string) => `${regBase()}${lowerId}/index.json`,
    regLeaf: (p: FeedPackage) => `${regBase()}${p.lowerId}/${p.lowerVersion}.json`,
    regPage: (lowerId: string, lower: string, upper: string) => `${regBase()}${lowerId}/page/${lower}/${upper}.json`,
    catalog: (p: FeedPackage) => `${origin}/v3/catalog0/data/${CATALOG_STAMP}/${p.lowerId}.${p.lowerVersion}.json`,
    nupkg: (p: FeedPackage) => `${flatBase()}${p.lowerId}/${p.lowerVersion}/${p.lowerId}.${p.lowerVersion}.nupkg`,
    icon: (p: FeedPackage) => `${flatBase()}${p.lowerId}/${p.lowerVersion}/icon`,
    readme: (p: FeedPackage) => `${flatBase()}${p.lowerId}/${p.lowerVersion}/readme`,
  };

  const iconUrlOf = (p: FeedPackage): string | undefined => (p.metadata.icon !== undefined ? urls.icon(p) : p.metadata.iconUrl);

  const dependencyGroupsJson = (p: FeedPackage, groups: DependencyGroup[]): unknown[] => {
    const catalogUrl = urls.catalog(p);
    return groups.map((g) => {
      const tfm = g.targetFramework?.toLowerCase();
      const groupId = `${catalogUrl}#dependencygroup${tfm === undefined ? '' : `/${tfm}`}`;
      const group: Record<string, unknown> = { '@id': groupId, '@type': 'PackageDependencyGroup' };
      if (g.dependencies.length > 0) {
        group['dependencies'] = g.dependencies.map((d) => ({
          '@id': `${groupId}/${d.id.toLowerCase()}`,
          '@type': 'PackageDependency',
          id: d.id,
          range: registrationRange(d.range),
          registration: urls.regIndex(d.id.toLowerCase()),
        }));
      }
      if (g.targetFramework !== undefined) group['targetFramework'] = g.targetFramework;
      return group;
    });
  };

  const catalogEntry = (p: FeedPackage): Record<string, unknown> => {
    const m = p.metadata;
    const entry: Record<string, unknown> = {
      '@id': urls.catalog(p),
      '@type': 'PackageDetails',
      authors: m.authors ?? '',
      dependencyGroups: dependencyGroupsJson(p, p.dependencyGroups),
      description: m.description ?? '',
      iconUrl: iconUrlOf(p) ?? '',
      id: p.id,
      language: m.language ?? '',
      licenseExpression: m.licenseExpression ?? '',
      licenseUrl: m.licenseUrl ?? '',
      listed: p.listed,
      minClientVersion: m.minClientVersion ?? '',
      packageContent: urls.nupkg(p),
      projectUrl: m.projectUrl ?? '',
      published: p.published,
      requireLicenseAcceptance: m.requireLicenseAcceptance ?? false,
      summary: m.summary ?? '',
      tags: splitList(m.tags, /[\s,;]+/),
      title: m.title ?? '',
      version: p.normalizedVersion,
    };
    if (m.readme !== undefined) entry['readmeUrl'] = `${gallery}/packages/${p.id}/${p.normalizedVersion}#readme-body-tab`;
    return entry;
  };

  const leafInPage = (p: FeedPackage): Record<string, unknown> => ({
    '@id': urls.regLeaf(p),
    '@type': 'Package',
    commitId: COMMIT_ID,
    commitTimeStamp: COMMIT_TS,
    catalogEntry: catalogEntry(p),
    packageContent: urls.nupkg(p),
    registration: urls.regIndex(p.lowerId),
  });

  const pagesOf = (lowerId: string): FeedPackage[][] => {
    const all = versionsOf(lowerId);
    const pages: FeedPackage[][] = [];
    for (let i = 0; i < all.length; i += MAX_LEAVES_PER_PAGE) pages.push(all.slice(i, i + MAX_LEAVES_PER_PAGE));
    return pages;
  };

  /** nuget.org (Catalog2RegistrationConfiguration): up to 127 leaves are inlined, in pages of up to 64; more → pages served separately. */
  const registrationIndex = (lowerId: string): unknown | undefined => {
    const pages = pagesOf(lowerId);
    if (pages.length === 0) return undefined;
    const total = pages.reduce((n, pg) => n + pg.length, 0);
    const inline = total <= MAX_INLINED_LEAVES;
    const indexUrl = urls.regIndex(lowerId);
    return {
      '@id': indexUrl,
      '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
      commitId: COMMIT_ID,
      commitTimeStamp: COMMIT_TS,
      count: pages.length,
      items: pages.map((pg) => {
        const lower = pg[0]?.normalizedVersion ?? '';
        const upper = pg[pg.length - 1]?.normalizedVersion ?? '';
        const stripped = (v: string) => normalizeVersion(v, true).toLowerCase();
        const page: Record<string, unknown> = {
          '@id': inline ? `${indexUrl}#page/${stripped(lower)}/${stripped(upper)}` : urls.regPage(lowerId, stripped(lower), stripped(upper)),
          '@type': 'catalog:CatalogPage',
          commitId: COMMIT_ID,
          commitTimeStamp: COMMIT_TS,
          count: pg.length,
        };
        if (inline) {
          page['items'] = pg.map(leafInPage);
          page['parent'] = indexUrl;
        }
        page['lower'] = stripped(lower);
        page['upper'] = stripped(upper);
        return page;
      }),
      '@context': REGISTRATION_CONTEXT,
    };
  };

  const registrationPage = (lowerId: string, lower: string, upper: string): unknown | undefined => {
    const pg = pagesOf(lowerId).find((p) => p[0]?.lowerVersion === lower && p[p.length - 1]?.lowerVersion === upper);
    if (pg === undefined || pagesOf(lowerId).reduce((n, p) => n + p.length, 0) <= MAX_INLINED_LEAVES) return undefined;
    return {
      '@id': urls.regPage(lowerId, lower, upper),
      '@type': 'catalog:CatalogPage',
      commitId: COMMIT_ID,
      commitTimeStamp: COMMIT_TS,
      count: pg.length,
      items: pg.map(leafInPage),
      lower,
      parent: urls.regIndex(lowerId),
      upper,
      '@context': REGISTRATION_CONTEXT,
    };
  };

  const registrationLeaf = (p: FeedPackage): unknown => ({
    '@id': urls.regLeaf(p),
    '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
    catalogEntry: urls.catalog(p),
    listed: p.listed,
    packageContent: urls.nupkg(p),
    published: p.published,
    registration: urls.regIndex(p.lowerId),
    '@context': {
      '@vocab': 'http://schema.nuget.org/schema#',
      xsd: 'http://www.w3.org/2001/XMLSchema#',
      catalogEntry: { '@type': '@id' },
      registration: { '@type': '@id' },
      packageContent: { '@type': '@id' },
      published: { '@type': 'xsd:dateTime' },
    },
  });

  const serviceIndex = (): unknown => {
    const query = `${origin}/query`;
    const autocomplete = `${origin}/autocomplete`;
    const resources: ServiceIndexResource[] = [
      { '@id': query, '@type': 'SearchQueryService', comment: 'Query endpoint of NuGet Search service (primary)' },
      { '@id': query, '@type': 'SearchQueryService/3.0.0-beta', comment: 'Query endpoint of NuGet Search service (primary)' },
      { '@id': query, '@type': 'SearchQueryService/3.0.0-rc', comment: 'Query endpoint of NuGet Search service (primary)' },
      { '@id': query, '@type': 'SearchQueryService/3.5.0', comment: 'Query endpoint of NuGet Search service (primary) used by RC clients' },
      { '@id': autocomplete, '@type': 'SearchAutocompleteService', comment: 'Autocomplete endpoint of NuGet Search service (primary)' },
      { '@id': autocomplete, '@type': 'SearchAutocompleteService/3.0.0-beta', comment: 'Autocomplete endpoint of NuGet Search service (primary)' },
      { '@id': autocomplete, '@type': 'SearchAutocompleteService/3.0.0-rc', comment: 'Autocomplete endpoint of NuGet Search service (primary)' },
      { '@id': flatBase(), '@type': 'PackageBaseAddress/3.0.0', comment: 'Base URL of where NuGet packages are stored, in the format https://api.nuget.org/v3-flatcontainer/{id-lower}/{version-lower}/{id-lower}.{version-lower}.nupkg' },
      { '@id': `${origin}/api/v2/package`, '@type': 'PackagePublish/2.0.0' },
      { '@id': regBase(), '@type': 'RegistrationsBaseUrl/3.6.0', comment: `Base URL of Azure storage where NuGet package registration info is stored${gz ? ' in GZIP format' : ''}. This base URL includes SemVer 2.0.0 packages.` },
      { '@id': regBase(), '@type': 'RegistrationsBaseUrl/Versioned', clientVersion: '4.3.0-alpha', comment: `Base URL of Azure storage where NuGet package registration info is stored${gz ? ' in GZIP format' : ''}. This base URL includes SemVer 2.0.0 packages.` },
      { '@id': `${gallery}/packages/{id}/{version}`, '@type': 'PackageDetailsUriTemplate/5.1.0', comment: 'URI template used by NuGet Client to construct details URL for packages' },
      { '@id': `${origin}/v3/vulnerabilities/index.json`, '@type': 'VulnerabilityInfo/6.7.0', comment: 'The endpoint for discovering information about vulnerabilities of packages in this package source.' },
      ...(opts.extraResources ?? []),
    ];
    const advertise = opts.advertise;
    const typeName = (t: string): string => t.split('/')[0] ?? t;
    const advertised =
      advertise === undefined
        ? resources
        : resources.filter((r) => (Array.isArray(r['@type']) ? r['@type'] : [r['@type']]).some((t) => advertise.includes(typeName(t))));
    return {
      version: '3.0.0',
      resources: advertised,
      '@context': { '@vocab': 'http://schema.nuget.org/services#', comment: 'http://www.w3.org/2000/01/rdf-schema#comment' },
    };
  };

  interface SearchFilter {
    prerelease: boolean;
    semVer2: boolean;
  }
  const eligibleVersions = (lowerId: string, f: SearchFilter): FeedPackage[] =>
    versionsOf(lowerId).filter((p) => p.listed && (f.prerelease || !isPrerelease(p.version)) && (f.semVer2 || !isSemVer2(p.version)));

  const distinctIds = (): string[] => [...new Set(packages.map((p) => p.lowerId))];

  const matchesTerms = (latest: FeedPackage, q: string): number | undefined => {
    const terms = q.toLowerCase().split(/\s+/).filter((t) => t !== '');
    if (terms.length === 0) return 0;
    let score = 0;
    for (const term of terms) {
      const colon = term.indexOf(':');
      const field = colon > 0 ? term.slice(0, colon) : '';
      const value = colon > 0 ? term.slice(colon + 1) : term;
      if (field === 'packageid') {
        if (latest.lowerId !== value) return undefined;
        score += 100;
        continue;
      }
      if (field === 'id') {
        if (!latest.lowerId.includes(value)) return undefined;
        score += 10;
        continue;
      }
      const m = latest.metadata;
      const hay = [latest.lowerId, m.title, m.description, m.tags, m.authors, m.summary].filter((s) => s !== undefined).join('\n').toLowerCase();
      if (!hay.includes(value)) return undefined;
      score += latest.lowerId === value ? 100 : latest.lowerId.startsWith(value) ? 20 : latest.lowerId.includes(value) ? 10 : 1;
    }
    return score;
  };

  const search = (params: URLSearchParams): unknown => {
    const f: SearchFilter = { prerelease: boolParam(params.get('prerelease')), semVer2: semVer2Param(params.get('semVerLevel')) };
    const q = params.get('q') ?? '';
    const skip = intParam(params.get('skip'), 0, 3000);
    const take = intParam(params.get('take'), 20, 1000);
    const packageType = (params.get('packageType') ?? params.get('packageTypeFilter') ?? '').toLowerCase();
    const hits: Array<{ score: number; downloads: number; versions: FeedPackage[] }> = [];
    for (const lowerId of distinctIds()) {
      const versions = eligibleVersions(lowerId, f);
      const latest = versions[versions.length - 1];
      if (latest === undefined) continue;
      const types = (latest.metadata.packageTypes ?? ['Dependency']).map((t) => t.toLowerCase());
      if (packageType !== '' && !types.includes(packageType)) continue;
      const score = matchesTerms(latest, q);
      if (score === undefined) continue;
      hits.push({ score, downloads: downloadsFor(lowerId), versions });
    }
    hits.sort((a, b) => b.score - a.score || b.downloads - a.downloads);
    return {
      '@context': { '@vocab': 'http://schema.nuget.org/schema#', '@base': regBase() },
      totalHits: hits.length,
      data: hits.slice(skip, skip + take).map(({ downloads, versions }) => {
        const latest = versions[versions.length - 1] as FeedPackage;
        const m = latest.metadata;
        const perVersion = Math.floor(downloads / versions.length);
        return {
          '@id': urls.regIndex(latest.lowerId),
          '@type': 'Package',
          registration: urls.regIndex(latest.lowerId),
          id: latest.id,
          version: f.semVer2 ? latest.normalizedVersion : normalizeVersion(latest.version, true),
          description: m.description ?? '',
          summary: m.summary ?? '',
          title: m.title ?? latest.id,
          iconUrl: iconUrlOf(latest) ?? '',
          licenseUrl: m.licenseUrl ?? '',
          projectUrl: m.projectUrl ?? '',
          tags: splitList(m.tags, /[\s,;]+/),
          authors: splitList(m.authors, /,/),
          owners: splitList(m.owners ?? m.authors, /,/),
          totalDownloads: downloads,
          verified: true,
          packageTypes: (m.packageTypes ?? ['Dependency']).map((name) => ({ name })),
          versions: versions.map((v) => ({ version: v.normalizedVersion, downloads: perVersion, '@id': urls.regLeaf(v) })),
          vulnerabilities: [],
        };
      }),
    };
  };

  /** nuget.org SearchController.AutocompleteAsync: `q` present or `id` absent → id mode, else version mode. */
  const autocomplete = (params: URLSearchParams): unknown => {
    const f: SearchFilter = { prerelease: boolParam(params.get('prerelease')), semVer2: semVer2Param(params.get('semVerLevel')) };
    const context = { '@vocab': 'http://schema.nuget.org/schema#' };
    const id = params.get('id');
    if (params.get('q') === null && id !== null) {
      const versions = eligibleVersions(id.toLowerCase(), f).map((p) => (f.semVer2 ? p.normalizedVersion : normalizeVersion(p.version, true)));
      return { '@context': context, totalHits: versions.length, data: versions };
    }
    const q = (params.get('q') ?? '').toLowerCase();
    const skip = intParam(params.get('skip'), 0, 3000);
    const take = intParam(params.get('take'), 20, 1000);
    const ids = distinctIds()
      .map((lowerId) => eligibleVersions(lowerId, f))
      .filter((v) => v.length > 0)
      .map((v) => (v[v.length - 1] as FeedPackage))
      .filter((p) => q === '' || p.lowerId.includes(q))
      .sort((a, b) => Number(b.lowerId.startsWith(q)) - Number(a.lowerId.startsWith(q)) || downloadsFor(b.lowerId) - downloadsFor(a.lowerId))
      .map((p) => p.id);
    return { '@context': context, totalHits: ids.length, data: ids.slice(skip, skip + take) };
  };

  const zipEntry = async (p: FeedPackage, name: string | undefined): Promise<Uint8Array | undefined> => {
    if (name === undefined) return undefined;
    const want = name.replace(/\\/g, '/').replace(/^\.?\//, '').toLowerCase();
    const entries = unzipSync(await readFile(p.nupkgPath), { filter: (f) => f.name.toLowerCase() === want });
    return Object.values(entries)[0];
  };

  // ---- HTTP plumbing ----

  const etagOf = (body: Uint8Array | string): string => `"0x${createHash('md5').update(body).digest('hex').slice(0, 16).toUpperCase()}"`;

  const send = (req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: Uint8Array | string): void => {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    res.writeHead(status, { ...headers, 'Content-Length': String(buf.length) });
    res.end(req.method === 'HEAD' ? undefined : buf);
  };

  const notFound = (req: IncomingMessage, res: ServerResponse): void => {
    // Azure blob storage answers missing blobs with an XML error body.
    send(req, res, 404, { 'Content-Type': 'application/xml' }, '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>');
  };

  const sendJson = (req: IncomingMessage, res: ServerResponse, value: unknown, opts: { cacheControl?: string; gzip?: boolean } = {}): void => {
    const text = JSON.stringify(value);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      ETag: etagOf(text),
      'Last-Modified': new Date(COMMIT_TS).toUTCString(),
      'Access-Control-Allow-Origin': '*',
    };
    if (opts.cacheControl !== undefined) headers['Cache-Control'] = opts.cacheControl;
    if (opts.gzip === true) {
      headers['Content-Encoding'] = 'gzip';
      send(req, res, 200, headers, gzipSync(text));
    } else {
      send(req, res, 200, headers, text);
    }
  };

  const sendNupkg = (req: IncomingMessage, res: ServerResponse, p: FeedPackage): void => {
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': 'max-age=120',
      ETag: `"${Buffer.from(p.sha512, 'base64').subarray(0, 16).toString('hex').toUpperCase()}"`,
      'Last-Modified': new Date(PUBLISHED).toUTCString(),
      'Accept-Ranges': 'bytes',
      'x-ms-meta-SHA512': Buffer.from(p.sha512, 'base64').toString('hex').toUpperCase(),
    };
    let start = 0;
    let end = p.size - 1;
    let status = 200;
    const range = req.headers.range;
    const m = typeof range === 'string' ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (m !== null && (m[1] !== '' || m[2] !== '')) {
      if (m[1] === '') {
        start = Math.max(0, p.size - Number(m[2]));
      } else {
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
      }
      if (start > end || start >= p.size) {
        res.writeHead(416, { 'Content-Range': `bytes */${p.size}` });
        res.end();
        return;
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${p.size}`;
    }
    headers['Content-Length'] = String(end - start + 1);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(p.nupkgPath, { start, end });
    stream.on('error', (err) => res.destroy(err));
    stream.pipe(res);
  };

  const findVersion = (lowerId: string, lowerVersion: string): FeedPackage | undefined =>
    packages.find((p) => p.lowerId === lowerId && p.lowerVersion === lowerVersion);

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const u = new URL(req.url ?? '/', origin);
    const path = u.pathname;
    const method = req.method ?? 'GET';

    if (path === '/api/v2/package' || path.startsWith('/api/v2/package/')) {
      // PackagePublish is advertised but this feed does not accept pushes.
      await drain(req);
      send(req, res, 404, { 'Content-Type': 'text/plain' }, 'publishing is not supported by this feed');
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      await drain(req);
      send(req, res, 405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }, 'method not allowed');
      return;
    }

    if (path === '/v3/index.json') return sendJson(req, res, serviceIndex(), { cacheControl: 'max-age=300' });

    let m = /^\/v3-flatcontainer\/([^/]+)\/index\.json$/.exec(path);
    if (m !== null) {
      const id = m[1] ?? '';
      const versions = id === id.toLowerCase() ? versionsOf(id) : [];
      if (versions.length === 0) return notFound(req, res);
      return sendJson(req, res, { versions: versions.map((p) => p.lowerVersion) }, { cacheControl: 'max-age=10' });
    }
    m = /^\/v3-flatcontainer\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (m !== null) {
      const [, id = '', version = '', file = ''] = m;
      // Lowercase only, like the CDN in front of nuget.org's flat container (NuGetGallery#9105).
      const p = id === id.toLowerCase() && version === version.toLowerCase() ? findVersion(id, version) : undefined;
      if (p === undefined) return notFound(req, res);
      if (file === `${id}.${version}.nupkg`) return sendNupkg(req, res, p);
      if (file === `${id}.nuspec`) {
        return send(req, res, 200, { 'Content-Type': 'text/xml', 'Cache-Control': 'max-age=120', ETag: etagOf(p.nuspecXml) }, p.nuspecXml);
      }
      if (file === 'icon' || file === 'readme') {
        const bytes = await zipEntry(p, file === 'icon' ? p.metadata.icon : p.metadata.readme);
        if (bytes === undefined) return notFound(req, res);
        const type = file === 'readme' ? 'text/markdown' : /\.jpe?g$/i.test(p.metadata.icon ?? '') ? 'image/jpeg' : 'image/png';
        return send(req, res, 200, { 'Content-Type': type, 'Cache-Control': 'max-age=120', ETag: etagOf(bytes) }, bytes);
      }
      return notFound(req, res);
    }

    m = /^\/v3\/registration\/([^/]+)\/(?:(index)|page\/([^/]+)\/([^/]+)|([^/]+))\.json$/.exec(path);
    if (m !== null) {
      const [, id = '', index, pageLower, pageUpper, leafVersion] = m;
      if (id !== id.toLowerCase()) return notFound(req, res);
      let doc: unknown;
      if (index !== undefined) doc = registrationIndex(id);
      else if (pageLower !== undefined && pageUpper !== undefined) doc = registrationPage(id, pageLower, pageUpper);
      else if (leafVersion !== undefined && leafVersion === leafVersion.toLowerCase()) {
        const p = findVersion(id, leafVersion);
        doc = p === undefined ? undefined : registrationLeaf(p);
      }
      if (doc === undefined) return notFound(req, res);
      return sendJson(req, res, doc, { cacheControl: 'no-store', gzip: gz });
    }

    m = /^\/v3\/catalog0\/data\/[^/]+\/([^/]+)\.json$/.exec(path);
    if (m !== null) {
      const leafName = m[1] ?? '';
      const p = packages.find((x) => `${x.lowerId}.${x.lowerVersion}` === leafName);
      if (p === undefined) return notFound(req, res);
      return sendJson(req, res, { ...catalogEntry(p), '@type': ['PackageDetails', 'catalog:Permalink'], packageHash: p.sha512, packageHashAlgorithm: 'SHA512', packageSize: p.size });
    }

    if (path === '/query') return sendJson(req, res, search(u.searchParams));
    if (path === '/autocomplete') return sendJson(req, res, autocomplete(u.searchParams));

    if (path === '/v3/vulnerabilities/index.json') {
      return sendJson(req, res, [
        {
          '@name': 'base',
          '@id': `${origin}/v3-vulnerabilities/${VULN_STAMP}/vulnerability.base.json`,
          '@updated': '2024-01-15T00:00:00Z',
          comment: 'The data for vulnerabilities. Contains all vulnerabilities.',
        },
      ], { cacheControl: 'max-age=259200, must-revalidate' });
    }
    if (path === `/v3-vulnerabilities/${VULN_STAMP}/vulnerability.base.json`) {
      return sendJson(req, res, opts.vulnerabilities ?? {}, { cacheControl: 'max-age=604800' });
    }

    return notFound(req, res);
  };

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers } });
    void (async () => {
      try {
        if (opts.onRequest !== undefined && (await opts.onRequest(req, res))) return;
        await route(req, res);
      } catch (err) {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`static feed error: ${String(err)}`);
        } else {
          res.destroy();
        }
      }
    })();
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;

  let closed: Promise<void> | undefined;
  return {
    url: origin,
    indexUrl: `${origin}/v3/index.json`,
    flatContainerUrl: flatBase(),
    registrationUrl: regBase(),
    searchUrl: `${origin}/query`,
    autocompleteUrl: `${origin}/autocomplete`,
    publishUrl: `${origin}/api/v2/package`,
    packages,
    requests,
    count(match) {
      return requests.filter((r) => (typeof match === 'string' ? r.url.includes(match) : match(r))).length;
    },
    resetRequests() {
      requests.length = 0;
    },
    addPackage(pkg, o) {
      add(pkg, o?.listed);
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const chunk of req) void chunk;
}
