/**
 * Registration leaves completed from what nugate holds. Some feeds (the registry these machines reach, minimal
 * Artifactory set-ups) send bare leaves: a version and a packageContent, no dependencies, authors or description.
 * The client then resolves dependencies from the nupkg it downloads, but `dotnet add package`, search and tools that
 * read the registration see nothing. When nugate holds the package, its nuspec fills what the upstream left out.
 * Fields the upstream did send always win.
 */
import type { Nuspec } from '../nuget/nuspec.ts';
import { unzipSync } from 'fflate';
import { readEntryFromFile, readManifestFromBuffer, readManifestFromFile } from '../nuget/nupkg.ts';
import type { BlobCache, BlobResult } from '../cache/types.ts';
import { closeBlobBody } from '../cache/blob-body.ts';
import { contentTypeOf, iconContentType } from '../nuget/package-files.ts';
import type { Json } from '../merge/registration.ts';

/** The catalogEntry fields a nuspec provides, shaped like nuget.org's registration (protocol.md §1.4). */
export function entryFromNuspec(nuspec: Nuspec, lowerId: string, version: string): Json {
  const entry: Json = {
    id: nuspec.id,
    version: nuspec.version,
    authors: nuspec.authors ?? '',
    description: nuspec.description ?? '',
    dependencyGroups: nuspec.dependencyGroups.map((g) => {
      const group: Json = {
        '@id': `urn:nugate:${lowerId}:${version}:dependencygroup:${(g.targetFramework ?? 'any').toLowerCase()}`,
        '@type': 'PackageDependencyGroup',
        dependencies: g.dependencies.map((d) => ({ '@type': 'PackageDependency', id: d.id, range: d.range ?? '' })),
      };
      if (g.targetFramework !== undefined) group.targetFramework = g.targetFramework;
      return group;
    }),
    tags: (nuspec.tags ?? '').split(/[\s,;]+/).filter((t) => t !== ''),
    packageTypes: nuspec.packageTypes.map((name) => ({ name })),
  };
  if (nuspec.title !== undefined) entry.title = nuspec.title;
  if (nuspec.licenseExpression !== undefined) entry.licenseExpression = nuspec.licenseExpression;
  if (nuspec.projectUrl !== undefined) entry.projectUrl = nuspec.projectUrl;
  if (nuspec.minClientVersion !== undefined) entry.minClientVersion = nuspec.minClientVersion;
  return entry;
}

/** True when a catalogEntry lacks what a nuspec would give (the upstream sent a bare leaf). */
export function isBare(entry: Json): boolean {
  return entry.dependencyGroups === undefined && entry.description === undefined && entry.authors === undefined;
}

/** The upstream's fields over the nuspec's: completion never changes what the upstream said. */
export function completeEntry(upstream: Json, fromNuspec: Json): Json {
  return { ...fromNuspec, ...upstream };
}

/** The nuspec of a held package, read from the stored nupkg (bounded by MAX_NUSPEC_BYTES); undefined if not held. */
export async function heldNuspec(blobs: BlobCache, upstream: string, id: string, version: string): Promise<{ nuspec: Nuspec; xml: Buffer } | undefined> {
  const key = { upstream, id, version, file: 'nupkg' as const };
  if (!(await blobs.has(key))) return undefined;
  // No loader: a held blob is served from the store, nothing is downloaded for a completion.
  const blob = await blobs.get(key, async () => 'notFound');
  if (blob === undefined) return undefined;
  try {
    return await manifestOf(blob);
  } catch {
    return undefined;
  } finally {
    // The body is ours (an open file handle or a stream): it is read here, never sent.
    await closeBlobBody(blob.body);
  }
}

async function manifestOf(blob: BlobResult): Promise<{ nuspec: Nuspec; xml: Buffer } | undefined> {
  const body = blob.body;
  if (body.kind === 'buffer') return readManifestFromBuffer(body.data);
  if (body.kind === 'file') return readManifestFromFile(body.path);
  return undefined;
}

/** nuget.org refuses icons and readmes over 1 MB; a little headroom, still never a big read into memory. */
const MAX_ASSET_BYTES = 8 * 1024 * 1024;

/**
 * The readme or icon of a held package, read from the stored nupkg at the path its nuspec names; undefined when the
 * package is not held or has none. Served when the upstream does not serve these files itself (nor offline).
 */
export async function heldAsset(blobs: BlobCache, upstream: string, id: string, version: string, file: 'readme' | 'icon'): Promise<BlobResult | undefined> {
  const key = { upstream, id, version, file: 'nupkg' as const };
  if (!(await blobs.has(key))) return undefined;
  const blob = await blobs.get(key, async () => 'notFound');
  if (blob === undefined) return undefined;
  try {
    const manifest = await manifestOf(blob);
    const entry = file === 'readme' ? manifest?.nuspec.readme : manifest?.nuspec.icon;
    if (entry === undefined) return undefined;
    const data = await readEntry(blob, entry);
    if (data === undefined) return undefined;
    return { body: { kind: 'buffer', data }, size: data.length, contentType: file === 'readme' ? contentTypeOf('readme') : iconContentType(entry), state: 'HIT' };
  } catch {
    return undefined;
  } finally {
    await closeBlobBody(blob.body);
  }
}

async function readEntry(blob: BlobResult, entry: string): Promise<Buffer | undefined> {
  if (blob.body.kind === 'file') return readEntryFromFile(blob.body.path, entry, MAX_ASSET_BYTES);
  if (blob.body.kind !== 'buffer') return undefined;
  const wanted = entry.replace(/\\/g, '/').toLowerCase();
  const files = unzipSync(blob.body.data, { filter: (f) => f.name.toLowerCase() === wanted && f.originalSize <= MAX_ASSET_BYTES });
  const found = Object.values(files)[0];
  return found === undefined ? undefined : Buffer.from(found);
}

