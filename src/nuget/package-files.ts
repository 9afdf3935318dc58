/**
 * The files of a package that the flat container serves (protocol.md §1.3), and the content type of each. One table
 * for every place that names them: the cache, the flat container, held and folder packages.
 */

export type PackageFile = 'nupkg' | 'nuspec' | 'icon' | 'readme';

export const PACKAGE_FILES: readonly PackageFile[] = ['nupkg', 'nuspec', 'icon', 'readme'];

/** Types fixed by the protocol, whatever an upstream says. */
const FIXED: Partial<Record<PackageFile, string>> = {
  nupkg: 'application/octet-stream',
  nuspec: 'application/xml',
};

/** Types when the upstream says nothing (icons and readmes otherwise keep the upstream's). */
const FALLBACK: Record<PackageFile, string> = {
  nupkg: 'application/octet-stream',
  nuspec: 'application/xml',
  icon: 'application/octet-stream',
  readme: 'text/markdown; charset=utf-8',
};

/** The content type to serve `file` with, given what the upstream (if any) sent. */
export function contentTypeOf(file: PackageFile, upstreamType?: string): string {
  return FIXED[file] ?? (upstreamType !== undefined && upstreamType !== '' ? upstreamType : FALLBACK[file]);
}

/** The type of an icon embedded in a package, by the extension of its entry (nuget.org accepts PNG and JPEG). */
export function iconContentType(entry: string): string {
  const lower = entry.toLowerCase();
  if (lower.endsWith('.png')) return 'image/png';
  if (lower.endsWith('.jpg') || lower.endsWith('.jpeg')) return 'image/jpeg';
  return 'application/octet-stream';
}
