/**
 * Builds small, valid, unsigned .nupkg files for end-to-end tests: a root nuspec, `[Content_Types].xml`,
 * `_rels/.rels` and a `lib/{tfm}/_._` placeholder, zipped with fflate. The real NuGet client restores, pushes
 * and deletes them like any package from `dotnet pack`.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';

export interface NupkgSpec {
  id: string;
  version: string;
  /** Part of the nuspec, so two packages with the same id/version can still differ in their bytes. */
  description?: string;
  authors?: string;
  /** Target framework folder of the placeholder, default `net10.0`. */
  targetFramework?: string;
  /** Declared package types, e.g. ["SymbolsPackage"] for a .snupkg. */
  packageTypes?: string[];
  /** Payload files by path; default: the `lib/{tfm}/_._` placeholder. */
  files?: Record<string, Uint8Array>;
  /** File extension written by writeNupkg, default `nupkg`. */
  extension?: 'nupkg' | 'snupkg';
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function nuspecXml(spec: NupkgSpec): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">',
    '  <metadata>',
    `    <id>${xmlEscape(spec.id)}</id>`,
    `    <version>${xmlEscape(spec.version)}</version>`,
    `    <authors>${xmlEscape(spec.authors ?? 'nugate tests')}</authors>`,
    `    <description>${xmlEscape(spec.description ?? `${spec.id} ${spec.version}, built by the nugate e2e tests`)}</description>`,
    ...(spec.packageTypes?.length
      ? ['    <packageTypes>', ...spec.packageTypes.map((t) => `      <packageType name="${xmlEscape(t)}" />`), '    </packageTypes>']
      : []),
    '  </metadata>',
    '</package>',
    '',
  ].join('\n');
}

/** `[Content_Types].xml` with a Default for every payload file extension, as `dotnet pack` writes it. */
function contentTypes(paths: string[]): string {
  const extensions = [...new Set(paths.map((p) => p.slice(p.lastIndexOf('.') + 1)))];
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
    '  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />',
    '  <Default Extension="nuspec" ContentType="application/octet" />',
    ...extensions.map((e) => `  <Default Extension="${xmlEscape(e)}" ContentType="application/octet" />`),
    '</Types>',
    '',
  ].join('\n');
}

/** The zip bytes of a package. Deterministic for a given spec (fixed timestamps). */
export function buildNupkg(spec: NupkgSpec): Uint8Array {
  const tfm = spec.targetFramework ?? 'net10.0';
  const mtime = new Date('2024-01-15T10:20:30Z');
  const rels = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">',
    `  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/${xmlEscape(spec.id)}.nuspec" Id="R0" />`,
    '</Relationships>',
    '',
  ].join('\n');
  const files = spec.files ?? { [`lib/${tfm}/_._`]: new Uint8Array() };
  return zipSync(
    {
      '_rels/.rels': strToU8(rels),
      [`${spec.id}.nuspec`]: strToU8(nuspecXml(spec)),
      ...files,
      '[Content_Types].xml': strToU8(contentTypes(Object.keys(files))),
    },
    { mtime },
  );
}

export interface WrittenNupkg {
  path: string;
  bytes: Uint8Array;
  /** Base64 SHA-512, as NuGet writes it to `.nupkg.sha512`. */
  sha512: string;
}

/** Writes `{dir}/{id}.{version}.nupkg` (or `.snupkg`) and returns its path, bytes and hash. */
export async function writeNupkg(dir: string, spec: NupkgSpec): Promise<WrittenNupkg> {
  const bytes = buildNupkg(spec);
  const path = join(dir, `${spec.id}.${spec.version}.${spec.extension ?? 'nupkg'}`);
  await writeFile(path, bytes);
  return { path, bytes, sha512: createHash('sha512').update(bytes).digest('base64') };
}
