/**
 * A folder of .nupkg files as a Source (source.ts; config `url: "file:///srv/packages"`). Everything is answered
 * from the folder's index (folder/scan.ts, kept current by folder/live-index.ts) and from the files themselves:
 * no HTTP emulation, no copy into the blob cache. Versions, registration leaves, search and autocomplete are built
 * from each package's nuspec with canonical URLs (folder/catalog.ts, folder/query.ts); package files are read
 * straight from the folder (folder/files.ts), only files the scan found, inside the folder.
 *
 * A folder is also a hosted feed: `publisher` stores pushes and unlists/relists in it (folder/publish.ts), and
 * every publish ends with a rescan, so the next answer already shows it. Answers are never reused beyond the
 * request (freshMs 0): rendering from the in-memory index is cheap, and nothing can then hide a change.
 */
import { realpath, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../cache/clock.ts';
import type { BlobFile, BlobResult } from '../cache/types.ts';
import { UpstreamError } from '../errors.ts';
import type { SearchParams } from '../merge/search.ts';
import { lowerNormalized } from '../nuget/version.ts';
import { CANONICAL_LINKS, catalogEntry, leafItem } from './folder/catalog.ts';
import { FolderFiles, type FileRead } from './folder/files.ts';
import { LiveIndex } from './folder/live-index.ts';
import { createFolderPublisher, type FolderPublisher } from './folder/publish.ts';
import { autocompleteIds, autocompleteVersionsOf, searchFolder } from './folder/query.ts';
import { findPackage, type FolderIndex, type FolderPackage } from './folder/scan.ts';
import type { Answer, AnswerMeta, AutocompletePage, Capabilities, HeldPackage, Leaf, PublishTarget, SearchPage, Source, VersionsOptions } from './source.ts';

/** A `file:` upstream URL names a folder source. */
export function isFolderUrl(url: string): boolean {
  return /^file:/i.test(url);
}

export interface FolderSourceOptions {
  /** The upstream's configured name. */
  name: string;
  /** The upstream's configured url, `file:///path/to/folder`. */
  url: string;
  log: Logger;
  /** Milliseconds between rescans; default 30 000; 0 = only on demand (publish, invalidate, a missed version). */
  rescanMs?: number;
  clock?: Clock;
}

export interface FolderSource extends Source {
  /** Stores pushed packages in the folder, unlists and relists them (the publish routes call it). */
  readonly publisher: FolderPublisher;
}

const DEFAULT_RESCAN_MS = 30_000;
/** A lookup that misses rescans the folder at most this often (see LiveIndex.refresh). */
const MISS_RESCAN_MS = 2_000;
/** Every answer: straight from the folder, never stale, not to be reused (a publish must show at once). */
const META: AnswerMeta = { state: 'HIT', ageMs: 0, freshMs: 0 };
const CAPABILITIES: Capabilities = { search: true, vulnerability: false, publish: true, symbols: false, browserTemplates: [] };

const found = <T>(value: T): Answer<T> => ({ found: true, value, meta: { ...META } });
const missing = <T>(): Answer<T> => ({ found: false, meta: { ...META } });

/** The flat-container forms of an id and version; undefined for a version that does not parse. */
function keyOf(id: string, version: string): { lowerId: string; lowerVersion: string } | undefined {
  const lowerVersion = lowerNormalized(version);
  return lowerVersion === undefined ? undefined : { lowerId: id.toLowerCase(), lowerVersion };
}

function declares(pkg: FolderPackage, file: BlobFile): boolean {
  if (file === 'icon') return pkg.nuspec.icon !== undefined;
  if (file === 'readme') return pkg.nuspec.readme !== undefined;
  return true;
}

class Folder implements FolderSource {
  readonly name: string;
  readonly local = true;
  readonly publisher: FolderPublisher;
  private readonly log: Logger;
  private readonly live: LiveIndex;
  private readonly files: FolderFiles;

  constructor(opts: FolderSourceOptions, root: string) {
    this.name = opts.name;
    this.log = opts.log;
    this.live = new LiveIndex({ root, log: opts.log, rescanMs: opts.rescanMs ?? DEFAULT_RESCAN_MS, clock: opts.clock ?? systemClock });
    this.files = new FolderFiles(root, opts.log);
    this.publisher = createFolderPublisher({ name: opts.name, root, log: opts.log, index: () => this.live.current(), rescan: () => this.live.rescan() });
  }

  async capabilities(): Promise<Capabilities> {
    return { ...CAPABILITIES, browserTemplates: [] };
  }

  async versions(id: string, opts: VersionsOptions = {}): Promise<Answer<string[]>> {
    const lowerId = id.toLowerCase();
    let index = await this.live.current();
    const wanted = opts.mustInclude === undefined ? undefined : lowerNormalized(opts.mustInclude);
    // A file copied into the folder since the last scan must not be a 404 until the next periodic rescan.
    if (wanted !== undefined && findPackage(index, lowerId, wanted) === undefined) index = await this.live.refresh(MISS_RESCAN_MS);
    const list = index.byId.get(lowerId);
    return list === undefined || list.length === 0 ? missing() : found(list.map((p) => p.lowerVersion));
  }

  async registration(id: string): Promise<Answer<Leaf[]>> {
    const list = (await this.live.current()).byId.get(id.toLowerCase());
    if (list === undefined || list.length === 0) return missing();
    return found(list.map((p) => ({ version: p.lowerVersion, upstream: this.name, item: leafItem(CANONICAL_LINKS, p) })));
  }

  async search(params: SearchParams, extra: Record<string, string>): Promise<Answer<SearchPage>> {
    const includeDelisted = extra['includeDelisted']?.trim().toLowerCase() === 'true';
    return found(searchFolder(await this.live.current(), params, includeDelisted, CANONICAL_LINKS));
  }

  async autocomplete(params: SearchParams): Promise<Answer<AutocompletePage>> {
    return found(autocompleteIds(await this.live.current(), params));
  }

  async autocompleteVersions(id: string, params: SearchParams): Promise<Answer<string[]>> {
    const index = await this.live.current();
    const lowerId = id.trim().toLowerCase();
    return index.byId.has(lowerId) ? found(autocompleteVersionsOf(index, lowerId, params)) : missing();
  }

  async file(id: string, version: string, file: BlobFile): Promise<BlobResult | undefined> {
    const key = keyOf(id, version);
    if (key === undefined) return undefined;
    let index = await this.live.current();
    // Twice at most: a file that changed since the scan is read again after a rescan has indexed it afresh.
    for (let attempt = 0; attempt < 2; attempt++) {
      const pkg = findPackage(index, key.lowerId, key.lowerVersion);
      if (pkg === undefined) return undefined;
      const read = await this.readFile(pkg, file);
      if (read === 'absent') return undefined;
      if (read === 'gone') {
        // Let the index catch up (at most one walk per MISS_RESCAN_MS however often it is asked for); this
        // request answers "not here" without waiting for it.
        void this.live.refresh(MISS_RESCAN_MS);
        return undefined;
      }
      if (read !== 'changed') return read;
      await this.live.rescan();
      index = await this.live.current();
    }
    this.log.warn({ id: key.lowerId, version: key.lowerVersion, file }, 'folder upstream: package file keeps changing, not served');
    return undefined;
  }

  async holds(id: string, version: string, file: BlobFile): Promise<boolean> {
    const key = keyOf(id, version);
    const pkg = key === undefined ? undefined : findPackage(await this.live.current(), key.lowerId, key.lowerVersion);
    return pkg !== undefined && declares(pkg, file);
  }

  async vulnerabilityIndex(): Promise<Answer<unknown>> {
    return missing();
  }

  async linked(): Promise<Answer<unknown>> {
    return missing();
  }

  async held(): Promise<HeldPackage[]> {
    const index: FolderIndex = await this.live.current();
    return index.ids.flatMap((lowerId) => {
      const list = index.byId.get(lowerId) ?? [];
      const latest = list[list.length - 1];
      if (latest === undefined) return [];
      return [{ id: lowerId, displayId: latest.id, versions: list.map((p) => ({ version: p.fullVersion, listed: p.listed, entry: catalogEntry(CANONICAL_LINKS, p) })) }];
    });
  }

  async publishTarget(kind: 'package' | 'symbols'): Promise<PublishTarget | undefined> {
    // A folder keeps no symbols: a .snupkg pushed here would have nowhere to be served from.
    return kind === 'package' ? { kind: 'folder' } : undefined;
  }

  async invalidate(): Promise<void> {
    await this.live.rescan();
  }

  health(): 'closed' {
    return 'closed';
  }

  close(): Promise<void> {
    return this.live.close();
  }

  /** I/O failures other than a vanished file are the source's failure: logged with the path, named without it. */
  private async readFile(pkg: FolderPackage, file: BlobFile): Promise<FileRead> {
    try {
      return await this.files.read(pkg, file);
    } catch (err) {
      this.log.warn({ file: pkg.path, err: err instanceof Error ? err.message : String(err) }, 'folder upstream: could not read a package');
      throw new UpstreamError(this.name, 'the folder could not be read', { cause: err, status: 503 });
    }
  }
}

/**
 * Starts serving a folder. Throws when the URL is not a local file: URL or the folder is not a readable directory
 * (a configuration error, reported at start); the first scan runs in the background and requests wait for it.
 */
export async function createFolderSource(opts: FolderSourceOptions): Promise<FolderSource> {
  let root: string;
  try {
    const dir = fileURLToPath(opts.url);
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error(`${dir} is not a directory`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`upstream "${opts.name}": ${opts.url} is not a readable folder (${reason})`, { cause: err });
  }
  return new Folder(opts, root);
}
