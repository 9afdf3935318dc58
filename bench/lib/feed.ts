/**
 * The documents the benchmark origin serves: a nuget-shaped feed with one package id, `Bench.Package`.
 *
 * - a service index (PackageBaseAddress → {origin}/flat/, RegistrationsBaseUrl/3.6.0 → {origin}/reg/,
 *   SearchQueryService → {origin}/query, Catalog/3.0.0 → {origin}/catalog/index.json);
 * - a registration index of about 2 KB holding about 20 absolute upstream URLs (the "2 KB JSON with rewrite");
 * - a search answer of about 2 KB, also holding about 20 absolute URLs (the miss path: one per unique query);
 * - a real 300 KB .nupkg (stored zip, random padding, a nuspec whose id/version match, so nugate's verification
 *   accepts it before caching).
 */
import { randomBytes } from 'node:crypto';
import { strToU8, zipSync, type Zippable } from 'fflate';

export const PACKAGE_ID = 'Bench.Package';
export const LOWER_ID = PACKAGE_ID.toLowerCase();
export const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '2.0.0'] as const;
/** The version whose .nupkg is served (and benchmarked). */
export const NUPKG_VERSION = '1.0.0';
export const NUPKG_BYTES = 300 * 1024;


export function serviceIndex(origin: string): unknown {
  return {
    version: '3.0.0',
    resources: [
      { '@id': `${origin}/flat/`, '@type': 'PackageBaseAddress/3.0.0' },
      { '@id': `${origin}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
      { '@id': `${origin}/query`, '@type': 'SearchQueryService/3.5.0' },
      { '@id': `${origin}/catalog/index.json`, '@type': 'Catalog/3.0.0' },
    ],
  };
}

export function flatIndex(): unknown {
  return { versions: [...VERSIONS] };
}

function catalogUrl(origin: string, version: string): string {
  return `${origin}/catalog/${LOWER_ID}.${version}.json`;
}

function nupkgUrl(origin: string, version: string): string {
  return `${origin}/flat/${LOWER_ID}/${version}/${LOWER_ID}.${version}.nupkg`;
}

/** A registration index with every leaf inlined: 4 leaves × 5 URLs + 2 = 22 absolute upstream URLs, about 2 KB. */
export function registrationIndex(origin: string): unknown {
  const index = `${origin}/reg/${LOWER_ID}/index.json`;
  const leaf = (version: string): unknown => ({
    '@id': `${origin}/reg/${LOWER_ID}/${version}.json`,
    '@type': 'Package',
    catalogEntry: {
      '@id': catalogUrl(origin, version),
      id: PACKAGE_ID,
      packageContent: nupkgUrl(origin, version),
      version,
    },
    packageContent: nupkgUrl(origin, version),
    registration: index,
  });
  const first = VERSIONS[0];
  const last = VERSIONS[VERSIONS.length - 1];
  return {
    '@id': index,
    '@type': ['catalog:CatalogRoot', 'PackageRegistration', 'catalog:Permalink'],
    count: 1,
    items: [
      {
        '@id': `${index}#page/${first}/${last}`,
        '@type': 'catalog:CatalogPage',
        count: VERSIONS.length,
        items: VERSIONS.map(leaf),
        lower: first,
        upper: last,
      },
    ],
  };
}

/** A search answer: 2 hits × (4 URLs + 4 versions × 1 URL) + 1 = 17 absolute URLs, about 2 KB. */
export function searchAnswer(origin: string): unknown {
  const hit = (id: string, description: string): unknown => {
    const lower = id.toLowerCase();
    return {
      '@id': `${origin}/reg/${lower}/index.json`,
      '@type': 'Package',
      registration: `${origin}/reg/${lower}/index.json`,
      id,
      version: '2.0.0',
      description,
      summary: '',
      title: id,
      iconUrl: `${origin}/flat/${lower}/2.0.0/icon`,
      licenseUrl: `${origin}/catalog/licenses/${lower}.txt`,
      projectUrl: 'https://example.invalid/nugate-bench',
      tags: ['bench', 'nugate'],
      authors: ['nugate bench'],
      owners: ['nugate'],
      totalDownloads: 123456,
      verified: true,
      packageTypes: [{ name: 'Dependency' }],
      versions: VERSIONS.map((v) => ({ version: v, downloads: 41152, '@id': `${origin}/reg/${lower}/${v}.json` })),
      vulnerabilities: [],
    };
  };
  return {
    '@context': { '@vocab': 'http://schema.nuget.org/schema#', '@base': `${origin}/reg/` },
    totalHits: 2,
    data: [
      hit(PACKAGE_ID, 'A package that exists to be benchmarked.'),
      hit(`${PACKAGE_ID}.Extensions`, 'A second hit.'),
    ],
  };
}

function nuspec(version: string): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">',
    '  <metadata>',
    `    <id>${PACKAGE_ID}</id>`,
    `    <version>${version}</version>`,
    '    <authors>nugate bench</authors>',
    '    <description>A package that exists to be benchmarked.</description>',
    '  </metadata>',
    '</package>',
    '',
  ].join('\n');
}

function zip(version: string, padding: Uint8Array): Uint8Array {
  const mtime = new Date('2024-01-15T10:20:30Z');
  const files: Zippable = {
    [`${PACKAGE_ID}.nuspec`]: [strToU8(nuspec(version)), { mtime }],
    '[Content_Types].xml': [
      strToU8('<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="nuspec" ContentType="application/octet" /><Default Extension="bin" ContentType="application/octet" /></Types>'),
      { mtime },
    ],
    'lib/netstandard2.0/payload.bin': [padding, { mtime }],
  };
  return zipSync(files, { level: 0 });
}

/** A valid package of exactly `size` bytes (level 0, incompressible padding). */
export function buildNupkg(version: string, size = NUPKG_BYTES): Buffer {
  const overhead = zip(version, new Uint8Array(0)).length;
  const padding = randomBytes(Math.max(0, size - overhead));
  return Buffer.from(zip(version, padding));
}
