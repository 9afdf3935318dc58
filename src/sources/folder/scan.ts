/**
 * Finds the packages in a folder source and indexes them by lowercase id and version (../folder-source.ts).
 *
 * Two layouts, mixed freely: loose `*.nupkg` files in a folder and its subfolders, and NuGet's global-packages
 * (hierarchical) layout `{id}/{version}/{id}.{version}.nupkg`. In a directory that is an extracted package of
 * the hierarchical layout (isExtractedPackageDir) the nupkg is read and the subfolders (lib/, build/, ...) are not
 * walked. Hidden entries (`.git`, ...) and `*.symbols.nupkg` are skipped.
 *
 * Only the nuspec metadata, the path and the hash of each package stay in memory. A rescan re-reads only files
 * whose size, mtime or inode changed. Nothing outside the folder is ever read: symbolic links are resolved and
 * followed only when their target lies inside the folder.
 *
 * A package is unlisted (NuGet's "delete") when a marker file `{package file}.nugate-unlisted` sits beside it
 * (publish.ts writes and removes it). Markers are seen in the same directory listings as the packages, so
 * tracking them costs no extra I/O, and the package file itself is never touched by an unlist.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Logger } from 'pino';
import { readManifestFromFile } from '../../nuget/nupkg.ts';
import { InvalidPackageError, type Nuspec } from '../../nuget/nuspec.ts';
import { compareVersions, isSemVer2, normalize, parseVersion, rangeIsSemVer2, toFullString, type NuGetVersion } from '../../nuget/version.ts';

export interface FolderPackage {
  /** The id as the nuspec writes it. */
  readonly id: string;
  readonly lowerId: string;
  readonly version: NuGetVersion;
  /** Normalized, with `+metadata` when the nuspec has it (registration `catalogEntry.version`). */
  readonly fullVersion: string;
  /** Normalized, without metadata. */
  readonly normalizedVersion: string;
  /** The flat-container form: normalized, lowercase. */
  readonly lowerVersion: string;
  readonly nuspec: Nuspec;
  /** Absolute path of the .nupkg, symbolic links resolved (always inside the folder). */
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** SHA-512 of the .nupkg, base64. */
  readonly sha512: string;
  /** SemVer2 version, or a dependency range with a SemVer2 bound (protocol.md §1.4). */
  readonly semVer2: boolean;
  /** False when an unlist marker sits beside the file: hidden from search, still restorable (protocol.md §1.3). */
  readonly listed: boolean;
}

export interface FolderIndex {
  /** Lowercase id → its versions, ascending. */
  readonly byId: ReadonlyMap<string, readonly FolderPackage[]>;
  /** Lowercase ids, sorted. */
  readonly ids: readonly string[];
}

export const EMPTY_INDEX: FolderIndex = { byId: new Map(), ids: [] };

/** Find a version of an id in an index. */
export function findPackage(index: FolderIndex, lowerId: string, lowerVersion: string): FolderPackage | undefined {
  return index.byId.get(lowerId)?.find((p) => p.lowerVersion === lowerVersion);
}

/** True when `path` is `root` or lies under it (both absolute and resolved). */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Suffix of the marker file that unlists the package file it is named after. */
export const UNLISTED_SUFFIX = '.nugate-unlisted';

/** A directory deeper than this below the folder is not walked (a guard against pathological trees). */
const MAX_DEPTH = 16;
/** Packages read (zip directory, nuspec, hash) at the same time. */
const CONCURRENCY = 4;

interface Candidate {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  listed: boolean;
}

type Known = { signature: string; pkg: FolderPackage } | { signature: string; invalid: true };

function signatureOf(c: Candidate): string {
  return `${c.size}:${c.mtimeMs}:${c.ino}`;
}

function isPackageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.endsWith('.nupkg') && !lower.endsWith('.symbols.nupkg');
}

/**
 * An extracted package of the global-packages layout, recognised by what NuGet writes beside the nupkg it
 * extracted: `.nupkg.metadata`, or (older clients) the `{id}.nuspec` plus `{id}.{version}.nupkg.sha512` pair.
 */
function isExtractedPackageDir(entries: readonly Dirent[]): boolean {
  const names = entries.map((e) => e.name.toLowerCase());
  if (names.includes('.nupkg.metadata')) return true;
  return names.some((n) => n.endsWith('.nupkg.sha512')) && names.some((n) => n.endsWith('.nuspec'));
}

const SHA512_BASE64 = /^[A-Za-z0-9+/]{86}==$/;

/** The `{file}.sha512` NuGet writes beside an extracted nupkg (base64), when present and well-formed. */
async function siblingSha512(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = (await readFile(`${path}.sha512`, 'utf8')).trim();
  } catch {
    return undefined;
  }
  return SHA512_BASE64.test(text) ? text : undefined;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

function dependsOnSemVer2(nuspec: Nuspec): boolean {
  return nuspec.dependencyGroups.some((g) => g.dependencies.some((d) => d.range !== undefined && rangeIsSemVer2(d.range)));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class FolderScanner {
  private readonly root: string;
  private readonly log: Logger;
  /** Per real path: what the file was when last read, so an unchanged file is never read again. */
  private known = new Map<string, Known>();
  /** Duplicate packages already reported (by the path that lost), so each is logged once. */
  private reportedDuplicates = new Set<string>();
  /** Directories and links already reported as unreadable or outside the folder. */
  private reportedSkips = new Set<string>();

  /** `root` must be the folder's real path (symbolic links resolved). */
  constructor(root: string, log: Logger) {
    this.root = root;
    this.log = log;
  }

  /**
   * Walks the folder and returns a new index. `previous` decides ties: for an id and version found in two files,
   * the file that already served it keeps serving it, else the first in walk order (names sorted) wins.
   * Throws when the folder itself cannot be read; unreadable subfolders and invalid packages are skipped.
   */
  async scan(previous: FolderIndex, isClosed: () => boolean = () => false): Promise<FolderIndex> {
    const candidates = await this.walk();
    const known = new Map<string, Known>();
    const found = new Map<string, FolderPackage>();
    await eachLimited(candidates, CONCURRENCY, async (c) => {
      if (isClosed()) return;
      const signature = signatureOf(c);
      let entry = this.known.get(c.path);
      if (entry === undefined || entry.signature !== signature) entry = await this.read(c, signature);
      if (entry === undefined) return;
      known.set(c.path, entry);
      // Listing is not part of the signature (the file does not change), so it is applied on every scan.
      if ('pkg' in entry) found.set(c.path, entry.pkg.listed === c.listed ? entry.pkg : { ...entry.pkg, listed: c.listed });
    });
    this.known = known;
    return this.build(candidates.map((c) => found.get(c.path)).filter((p) => p !== undefined), previous);
  }

  private async read(c: Candidate, signature: string): Promise<Known | undefined> {
    try {
      const { nuspec } = await readManifestFromFile(c.path);
      // parseNuspec has already checked that the version parses.
      const version = parseVersion(nuspec.version) as NuGetVersion;
      const normalizedVersion = normalize(version);
      const sha512 = (await siblingSha512(c.path)) ?? (await hashFile(c.path));
      const pkg: FolderPackage = {
        id: nuspec.id,
        lowerId: nuspec.id.toLowerCase(),
        version,
        fullVersion: toFullString(version),
        normalizedVersion,
        lowerVersion: normalizedVersion.toLowerCase(),
        nuspec,
        path: c.path,
        size: c.size,
        mtimeMs: c.mtimeMs,
        sha512,
        semVer2: isSemVer2(version) || dependsOnSemVer2(nuspec),
        listed: c.listed,
      };
      return { signature, pkg };
    } catch (err) {
      if (err instanceof InvalidPackageError) {
        // Remembered with its signature: logged once, read again only when the file changes (a copy finishing).
        this.log.warn({ file: c.path, err: err.message }, 'folder upstream: skipping an invalid package');
        return { signature, invalid: true };
      }
      // Removed or replaced while we looked, or unreadable: the next scan tries again.
      this.skipOnce(c.path, `could not read the package: ${errorMessage(err)}`);
      return undefined;
    }
  }

  private build(packages: readonly FolderPackage[], previous: FolderIndex): FolderIndex {
    const winners = new Map<string, FolderPackage>();
    const losers: Array<{ lost: FolderPackage; kept: FolderPackage }> = [];
    for (const pkg of packages) {
      const key = `${pkg.lowerId}/${pkg.lowerVersion}`;
      const current = winners.get(key);
      if (current === undefined) {
        winners.set(key, pkg);
        continue;
      }
      const incumbent = findPackage(previous, pkg.lowerId, pkg.lowerVersion)?.path;
      const keep = incumbent === pkg.path ? pkg : current;
      const lost = keep === pkg ? current : pkg;
      winners.set(key, keep);
      losers.push({ lost, kept: keep });
    }
    const seenLosers = new Set<string>();
    for (const { lost, kept } of losers) {
      seenLosers.add(lost.path);
      if (this.reportedDuplicates.has(lost.path)) continue;
      this.reportedDuplicates.add(lost.path);
      this.log.warn({ id: lost.id, version: lost.fullVersion, ignored: lost.path, served: kept.path }, 'folder upstream: duplicate package, the first file wins');
    }
    // Forget reports about files that are no longer duplicates (bounded by the number of files).
    for (const p of this.reportedDuplicates) if (!seenLosers.has(p)) this.reportedDuplicates.delete(p);

    const byId = new Map<string, FolderPackage[]>();
    for (const pkg of winners.values()) {
      const list = byId.get(pkg.lowerId);
      if (list === undefined) byId.set(pkg.lowerId, [pkg]);
      else list.push(pkg);
    }
    for (const list of byId.values()) list.sort((a, b) => compareVersions(a.version, b.version));
    return { byId, ids: [...byId.keys()].sort() };
  }

  /** Every package file under the folder, in a stable order (depth first, names sorted), with its listing. */
  private async walk(): Promise<Candidate[]> {
    const out: Candidate[] = [];
    // Real paths of unlist markers; a package's marker may be met after the package (another directory via a link).
    const markers = new Set<string>();
    const visited = new Set<string>([this.root]);
    const visit = async (dir: string, depth: number): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (dir === this.root) throw err;
        this.skipOnce(dir, `unreadable directory: ${errorMessage(err)}`);
        return;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const extracted = isExtractedPackageDir(entries);
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const path = join(dir, e.name);
        let target = path;
        let isFile = e.isFile();
        let isDir = e.isDirectory();
        if (e.isSymbolicLink()) {
          // Follow a link only when it stays inside the folder.
          try {
            target = await realpath(path);
          } catch {
            continue;
          }
          if (!isInside(this.root, target)) {
            this.skipOnce(path, 'symbolic link to outside the folder');
            continue;
          }
          const s = await stat(target).catch(() => undefined);
          isFile = s?.isFile() ?? false;
          isDir = s?.isDirectory() ?? false;
        }
        if (e.isFile() && e.name.endsWith(UNLISTED_SUFFIX)) {
          markers.add(path);
        } else if (isFile && isPackageFile(e.name)) {
          const s = await stat(target).catch(() => undefined);
          if (s?.isFile()) out.push({ path: target, size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, listed: true });
        } else if (isDir && !extracted && depth < MAX_DEPTH && !visited.has(target)) {
          visited.add(target);
          await visit(target, depth + 1);
        }
      }
    };
    await visit(this.root, 0);
    for (const c of out) c.listed = !markers.has(`${c.path}${UNLISTED_SUFFIX}`);
    return out;
  }

  private skipOnce(path: string, reason: string): void {
    if (this.reportedSkips.has(path)) return;
    if (this.reportedSkips.size > 10_000) this.reportedSkips.clear();
    this.reportedSkips.add(path);
    this.log.warn({ path, reason }, 'folder upstream: skipped');
  }
}
