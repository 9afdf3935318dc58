/**
 * Checks a finished download before it is indexed (design.md §3: "verified (length, zip opens, nuspec
 * id/version match, sha512 when upstream gives one)"). Any failure is an UpstreamError: the body was invalid,
 * it is never cached, and the next request asks the upstream again.
 */
import { readFile } from 'node:fs/promises';
import { MAX_NUSPEC_BYTES, readManifestFromFile } from '../nuget/nupkg.ts';
import { parseNuspec } from '../nuget/nuspec.ts';
import { lowerNormalized } from '../nuget/version.ts';
import { UpstreamError } from '../errors.ts';
import type { BlobKey } from './types.ts';

export interface DownloadFacts {
  key: BlobKey;
  /** The temp file holding the bytes. */
  path: string;
  size: number;
  /** SHA-512 of what was written, base64. */
  sha512: string;
  /** Content-Length the upstream announced. */
  expectedLength?: number;
  /** SHA-512 the upstream advertised (base64, `sha512-<base64>` or hex). */
  expectedSha512?: string;
}

/** Accepts NuGet's base64 packageHash, an SRI `sha512-…` string, or hex; returns base64. */
export function normalizeSha512(text: string): string {
  const t = text.trim().replace(/^sha512-/i, '');
  return /^[0-9a-f]{128}$/i.test(t) ? Buffer.from(t, 'hex').toString('base64') : t;
}

function invalid(key: BlobKey, message: string, cause?: unknown): UpstreamError {
  return new UpstreamError(key.upstream, `invalid ${key.file} for ${key.id} ${key.version}: ${message}`, cause === undefined ? undefined : { cause });
}

function checkIdentity(key: BlobKey, id: string, version: string): void {
  // Compare lowercased normalized forms, as the flat container does (package-base-address-resource.md).
  if (id.toLowerCase() !== key.id || lowerNormalized(version) !== key.version) {
    throw invalid(key, `the package says it is ${id} ${version}`);
  }
}

export async function verifyDownload(facts: DownloadFacts): Promise<void> {
  const { key } = facts;
  if (facts.expectedLength !== undefined && facts.size !== facts.expectedLength) {
    throw invalid(key, `got ${facts.size} of ${facts.expectedLength} bytes`);
  }
  if (facts.expectedSha512 !== undefined && normalizeSha512(facts.expectedSha512) !== facts.sha512) {
    throw invalid(key, 'SHA-512 does not match the hash the upstream advertised');
  }
  if (key.file === 'nupkg') {
    let manifest;
    try {
      manifest = await readManifestFromFile(facts.path);
    } catch (err) {
      throw invalid(key, err instanceof Error ? err.message : String(err), err);
    }
    checkIdentity(key, manifest.nuspec.id, manifest.nuspec.version);
  } else if (key.file === 'nuspec') {
    if (facts.size > MAX_NUSPEC_BYTES) throw invalid(key, `${facts.size} bytes is too big for a nuspec`);
    let nuspec;
    try {
      nuspec = parseNuspec(await readFile(facts.path));
    } catch (err) {
      throw invalid(key, err instanceof Error ? err.message : String(err), err);
    }
    checkIdentity(key, nuspec.id, nuspec.version);
  }
}
