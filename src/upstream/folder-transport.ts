/**
 * A folder of .nupkg files as an upstream (config `url: "file:///srv/packages"`). nugate talks to every upstream
 * through `Upstream.request` and a Transport; this one answers in process, with exactly the documents an HTTP V3
 * feed would serve, under a synthetic base `http://folder.nugate.invalid/{name}/` that is never dialled:
 *
 *   {config url}                                   service index (the file: URL itself)
 *   {base}flat/{id}/index.json                      versions (protocol.md §1.3)
 *   {base}flat/{id}/{version}/{id}.{version}.nupkg  the file, streamed; also {id}.nuspec, icon, readme
 *   {base}reg/{id}/index.json, {base}reg/{id}/{version}.json   registration, every version inlined (§1.4)
 *   {base}query, {base}autocomplete                 search and autocomplete (§1.5, §1.6)
 *
 * Anything else is a 404. URLs never name a file: a request is parsed into an id and a version, looked up in
 * the index, and only a file the scan found (inside the folder, links resolved) is ever opened.
 * The index is rebuilt by a periodic rescan (scan.ts); requests keep using the previous one until it is ready.
 * The index also advertises PackagePublish; pushes never reach the transport: publish/routes.ts hands them to
 * the source's publisher (folder/publish.ts), which writes into the folder and rescans.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { isValidId } from '../nuget/id.ts';
import { readEntryFromFile, readManifestFromFile } from '../nuget/nupkg.ts';
import { InvalidPackageError } from '../nuget/nuspec.ts';
import type { UpstreamRequest, UpstreamResponse } from './http.ts';
import type { Transport } from './upstream.ts';
import { EMPTY_INDEX, FolderScanner, findPackage, isInside, type FolderIndex, type FolderPackage } from '../sources/folder/scan.ts';
import { createFolderPublisher, type FolderPublisher } from '../sources/folder/publish.ts';
import {
  autocompleteDocument,
  flatIndexDocument,
  folderUrls,
  registrationIndexDocument,
  registrationLeafDocument,
  searchDocument,
  serviceIndexDocument,
  type FolderUrls,
} from '../sources/folder/documents.ts';

/** A `file:` upstream URL names a folder upstream. */
export function isFolderUrl(url: string): boolean {
  return /^file:/i.test(url);
}

export interface FolderSource {
  transport: Transport;
  /** Stores pushed packages in the folder, unlists and relists them. */
  publisher: FolderPublisher;
  /** Scans the folder again; resolves when a scan that started after this call has finished. */
  rescan(): Promise<void>;
  /** Stops the periodic rescan and waits for a running scan to stop. */
  close(): Promise<void>;
}

export interface FolderSourceOptions {
  /** The upstream's name (part of the synthetic base URL). */
  name: string;
  /** The upstream's configured url, `file:///path/to/folder`; requests for it get the service index. */
  serviceIndexUrl: string;
  log: Logger;
  /** Milliseconds between rescans; default 30 000; 0 = only on rescan(). */
  rescanMs?: number;
}

/** nuget.org refuses icons over 1 MB and readmes over 1 MB; a little headroom, still never a big read into memory. */
const MAX_ASSET_BYTES = 8 * 1024 * 1024;
const DEFAULT_RESCAN_MS = 30_000;
/** O_NOFOLLOW is not defined on Windows; there the realpath check alone guards the open. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
/** Error codes that mean "the file the index names is gone or was replaced by something we will not follow". */
const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR']);

function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function header(req: UpstreamRequest, name: string): string | undefined {
  for (const [k, v] of Object.entries(req.headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

function empty(): Readable {
  return Readable.from([]);
}

function bytesResponse(req: UpstreamRequest, status: number, contentType: string, body: Buffer, extra: Record<string, string> = {}): UpstreamResponse {
  const headers: Record<string, string> = { 'content-type': contentType, 'content-length': String(body.length), ...extra };
  return { status, headers, body: req.method === 'HEAD' ? empty() : Readable.from([body]), url: req.url };
}

function notFound(req: UpstreamRequest): UpstreamResponse {
  return bytesResponse(req, 404, 'text/plain; charset=utf-8', Buffer.from('Not found', 'utf8'));
}

/** A JSON document with a strong ETag; `If-None-Match` on it gets a 304, so nugate's revalidations stay cheap. */
function jsonResponse(req: UpstreamRequest, doc: unknown): UpstreamResponse {
  const body = Buffer.from(JSON.stringify(doc), 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  if (etagMatches(header(req, 'if-none-match'), etag)) {
    return { status: 304, headers: { etag }, body: empty(), url: req.url };
  }
  return bytesResponse(req, 200, 'application/json; charset=utf-8', body, { etag });
}

function iconContentType(path: string): string {
  const ext = extname(path).toLowerCase();
  if (ext === '.png') return 'image/png';
  if (ext === '.jpg' || ext === '.jpeg') return 'image/jpeg';
  return 'application/octet-stream';
}

/** `a.B-c` → `a.b-c` for a valid package id; undefined for anything else (`..`, `%2f`, empty, ...). */
function idSegment(segment: string | undefined): string | undefined {
  return segment !== undefined && isValidId(segment) ? segment.toLowerCase() : undefined;
}

const VERSION_SEGMENT = /^[0-9A-Za-z.-]{1,256}$/;

function versionSegment(segment: string | undefined): string | undefined {
  return segment !== undefined && VERSION_SEGMENT.test(segment) ? segment.toLowerCase() : undefined;
}

/** Splits a request URL below the base into path segments and query; the fragment is dropped, as HTTP does. */
function splitTarget(url: string, base: string): { path: string; query: URLSearchParams } | undefined {
  if (!url.startsWith(base)) return undefined;
  let rest = url.slice(base.length);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  return { path: q < 0 ? rest : rest.slice(0, q), query: new URLSearchParams(q < 0 ? '' : rest.slice(q + 1)) };
}

class FolderFeed {
  private readonly urls: FolderUrls;
  private readonly serviceIndexUrl: string;
  private readonly root: string;
  private readonly log: Logger;
  private readonly scanner: FolderScanner;
  private index: FolderIndex = EMPTY_INDEX;
  private fingerprint: string | undefined;
  private active: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  readonly firstScan: Promise<void>;

  constructor(opts: FolderSourceOptions, root: string) {
    this.urls = folderUrls(opts.name);
    this.serviceIndexUrl = opts.serviceIndexUrl;
    this.root = root;
    this.log = opts.log;
    this.scanner = new FolderScanner(root, opts.log);
    this.firstScan = this.rescan();
    const every = opts.rescanMs ?? DEFAULT_RESCAN_MS;
    if (every > 0) {
      this.timer = setInterval(() => {
        // A slow scan is not stacked up behind itself.
        if (this.active === undefined) void this.rescan();
      }, every);
      this.timer.unref();
    }
  }

  rescan(): Promise<void> {
    if (this.queued !== undefined) return this.queued;
    if (this.active === undefined) return this.start();
    const queued = this.active.then(() => {
      this.queued = undefined;
      return this.start();
    });
    this.queued = queued;
    return queued;
  }

  /** The index as of now, once the first scan has finished. */
  async current(): Promise<FolderIndex> {
    await this.firstScan;
    return this.index;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await (this.queued ?? this.active);
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.scanOnce().finally(() => {
      if (this.active === run) this.active = undefined;
    });
    this.active = run;
    return run;
  }

  /** Never rejects: a failed scan keeps the previous index. */
  private async scanOnce(): Promise<void> {
    if (this.closed) return;
    const started = performance.now();
    try {
      const next = await this.scanner.scan(this.index, () => this.closed);
      if (this.closed) return;
      let packages = 0;
      const keys: string[] = [];
      for (const list of next.byId.values()) {
        packages += list.length;
        for (const p of list) keys.push(`${p.lowerId}/${p.lowerVersion}@${p.path}${p.listed ? '' : ' unlisted'}`);
      }
      const fingerprint = createHash('sha256').update(keys.join('\n')).digest('base64');
      const changed = fingerprint !== this.fingerprint;
      this.index = next;
      this.fingerprint = fingerprint;
      const fields = { dir: this.root, ids: next.ids.length, packages, ms: Math.round(performance.now() - started) };
      if (changed) this.log.info(fields, 'folder upstream scanned');
      else this.log.debug(fields, 'folder upstream rescanned, no change');
    } catch (err) {
      this.log.warn({ dir: this.root, err: err instanceof Error ? err.message : String(err) }, 'folder upstream: scan failed, serving the previous index');
    }
  }

  readonly transport: Transport = async (req) => {
    req.signal?.throwIfAborted();
    if (req.url === this.serviceIndexUrl) return jsonResponse(req, serviceIndexDocument(this.urls));
    await this.firstScan;
    return this.route(req, this.index);
  };

  private async route(req: UpstreamRequest, index: FolderIndex): Promise<UpstreamResponse> {
    const target = splitTarget(req.url, this.urls.base);
    if (target === undefined) return notFound(req);
    const { path, query } = target;
    if (path === 'query') return jsonResponse(req, searchDocument(this.urls, index, query));
    if (path === 'autocomplete') return jsonResponse(req, autocompleteDocument(index, query));
    const [resource, rawId, third, fourth, ...extra] = path.split('/');
    const id = idSegment(rawId);
    if (id === undefined || third === undefined || extra.length > 0) return notFound(req);

    if (resource === 'flat') {
      if (fourth === undefined) {
        const doc = third === 'index.json' ? flatIndexDocument(index, id) : undefined;
        return doc === undefined ? notFound(req) : jsonResponse(req, doc);
      }
      const version = versionSegment(third);
      const pkg = version === undefined ? undefined : findPackage(index, id, version);
      if (pkg === undefined) return notFound(req);
      // The client may ask with the version's original case (protocol.md §1.3); match the file name in lowercase.
      const file = fourth.toLowerCase();
      if (file === `${pkg.lowerId}.${pkg.lowerVersion}.nupkg`) return this.sendNupkg(req, pkg);
      if (file === `${pkg.lowerId}.nuspec`) return this.sendNuspec(req, pkg);
      if (file === 'icon' || file === 'readme') return this.sendAsset(req, pkg, file);
      return notFound(req);
    }

    if (resource === 'reg' && fourth === undefined) {
      if (third === 'index.json') {
        const doc = registrationIndexDocument(this.urls, index, id);
        return doc === undefined ? notFound(req) : jsonResponse(req, doc);
      }
      const version = third.endsWith('.json') ? versionSegment(third.slice(0, -'.json'.length)) : undefined;
      const pkg = version === undefined ? undefined : findPackage(index, id, version);
      return pkg === undefined ? notFound(req) : jsonResponse(req, registrationLeafDocument(this.urls, pkg));
    }
    return notFound(req);
  }

  /**
   * The path of an indexed package as it is now, or undefined when it is gone or no longer inside the folder
   * (a file swapped for a link pointing out). A vanished file also triggers a rescan.
   */
  private async locate(pkg: FolderPackage): Promise<string | undefined> {
    let real: string;
    try {
      real = await realpath(pkg.path);
    } catch (err) {
      if (GONE.has(errorCode(err) ?? '')) {
        void this.rescan();
        return undefined;
      }
      throw err;
    }
    if (!isInside(this.root, real)) {
      this.log.warn({ file: pkg.path, target: real }, 'folder upstream: refusing a package that now points outside the folder');
      void this.rescan();
      return undefined;
    }
    return real;
  }

  private async sendNupkg(req: UpstreamRequest, pkg: FolderPackage): Promise<UpstreamResponse> {
    const path = await this.locate(pkg);
    if (path === undefined) return notFound(req);
    let handle: FileHandle;
    try {
      handle = await open(path, OPEN_FLAGS);
    } catch (err) {
      if (!GONE.has(errorCode(err) ?? '')) throw err;
      void this.rescan();
      return notFound(req);
    }
    let stats: Stats;
    try {
      stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        return notFound(req);
      }
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(stats.size),
      'last-modified': stats.mtime.toUTCString(),
    };
    if (stats.size === pkg.size && stats.mtimeMs === pkg.mtimeMs) {
      headers.etag = `"${Buffer.from(pkg.sha512, 'base64').toString('hex').slice(0, 40)}"`;
    } else {
      // Replaced since the scan: serve what is there now (nugate verifies it), and index it afresh.
      void this.rescan();
    }
    if (req.method === 'HEAD') {
      await handle.close();
      return { status: 200, headers, body: empty(), url: req.url };
    }
    // The stream owns the handle from here and closes it on end, error or destroy.
    return { status: 200, headers, body: handle.createReadStream({ highWaterMark: 256 * 1024 }), url: req.url };
  }

  private async sendNuspec(req: UpstreamRequest, pkg: FolderPackage): Promise<UpstreamResponse> {
    const path = await this.locate(pkg);
    if (path === undefined) return notFound(req);
    try {
      const { xml } = await readManifestFromFile(path);
      return bytesResponse(req, 200, 'text/xml', xml);
    } catch (err) {
      return this.readFailed(req, pkg, err);
    }
  }

  private async sendAsset(req: UpstreamRequest, pkg: FolderPackage, file: 'icon' | 'readme'): Promise<UpstreamResponse> {
    const entry = file === 'icon' ? pkg.nuspec.icon : pkg.nuspec.readme;
    if (entry === undefined) return notFound(req);
    const path = await this.locate(pkg);
    if (path === undefined) return notFound(req);
    let bytes: Buffer | undefined;
    try {
      bytes = await readEntryFromFile(path, entry, MAX_ASSET_BYTES);
    } catch (err) {
      return this.readFailed(req, pkg, err);
    }
    if (bytes === undefined) return notFound(req);
    return bytesResponse(req, 200, file === 'readme' ? 'text/markdown; charset=utf-8' : iconContentType(entry), bytes);
  }

  /** A package that broke or vanished after the scan is a 404 (and a rescan); an I/O error is the upstream's failure. */
  private readFailed(req: UpstreamRequest, pkg: FolderPackage, err: unknown): UpstreamResponse {
    if (err instanceof InvalidPackageError || GONE.has(errorCode(err) ?? '')) {
      this.log.warn({ file: pkg.path, err: err instanceof Error ? err.message : String(err) }, 'folder upstream: package unreadable since the scan');
      void this.rescan();
      return notFound(req);
    }
    throw err;
  }
}

/**
 * Starts serving a folder. Throws when the URL is not a local file: URL or the folder is not a readable directory
 * (a configuration error, reported at start); the first scan runs in the background and requests wait for it.
 */
export async function createFolderSource(opts: FolderSourceOptions): Promise<FolderSource> {
  let root: string;
  try {
    const dir = fileURLToPath(opts.serviceIndexUrl);
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error(`${dir} is not a directory`);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`upstream "${opts.name}": ${opts.serviceIndexUrl} is not a readable folder (${reason})`, { cause: err });
  }
  const feed = new FolderFeed(opts, root);
  return {
    transport: feed.transport,
    publisher: createFolderPublisher({ name: opts.name, root, log: opts.log, index: () => feed.current(), rescan: () => feed.rescan() }),
    rescan: () => feed.rescan(),
    close: () => feed.close(),
  };
}
