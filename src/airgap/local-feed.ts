/**
 * nugate asking itself: an app built in this process (createApp) and requests made with `app.request`, for exactly
 * what a restore, `add package`, search and audit ask. The cache fills the way real clients fill it, through the
 * Sources with all their verification, and nothing here builds an upstream URL.
 */
import type { Logger } from 'pino';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { HttpBindings } from '@hono/node-server';
import type { Config } from '../config/schema.ts';
import { createApp, type NugateApp } from '../app.ts';
import { eligibleSources, type Feed } from '../services.ts';
import { parseNuspec, type Nuspec } from '../nuget/nuspec.ts';
import type { BlobFile } from '../cache/types.ts';
import { isJsonObject } from '../nuget/json.ts';
import { lowerNormalized } from '../nuget/version.ts';

/** The public base of the in-process app: links in its documents are written against it and read back as paths. */
const BASE = 'http://nugate.local/';
/** How long a finished download may take to be verified and indexed. */
const STORE_WAIT_MS = 30_000;
const NUSPEC_WAIT_MS = 5_000;

export class FeedRequestError extends Error {
  readonly status: number;
  constructor(what: string, status: number, text: string) {
    super(`${what}: ${status}${text.trim() === '' ? '' : ` ${text.trim().slice(0, 300)}`}`);
    this.status = status;
  }
}

/** Stands in for the socket a raw package pipe writes to: records the status and X-Cache, counts or keeps the bytes. */
class Sink extends Writable {
  status = 0;
  headers: Record<string, string> = {};
  bytes = 0;
  readonly chunks: Buffer[] = [];
  private readonly keep: boolean;

  constructor(keep: boolean) {
    super();
    this.keep = keep;
  }

  writeHead(status: number, headers: Record<string, string> = {}): this {
    this.status = status;
    for (const [k, v] of Object.entries(headers)) this.headers[k.toLowerCase()] = v;
    return this;
  }

  /** ServerResponse's header calls, which middleware makes on the node response (access-log.ts). */
  setHeader(name: string, value: string | string[]): this {
    this.headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    return this;
  }

  getHeader(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.keep) this.chunks.push(chunk);
    callback();
  }
}

export interface FetchedPackage {
  /** X-Cache of the answer: HIT when nugate already held the package. */
  state: string;
  bytes: number;
}

export interface LocalFeed {
  /** Versions of an id (lowercase normalized); undefined when no upstream knows the id. */
  versions(id: string): Promise<string[] | undefined>;
  /** Downloads the .nupkg through nugate (read to the end, so it is verified and stored). */
  nupkg(id: string, version: string): Promise<FetchedPackage>;
  /** The nuspec; undefined when nugate cannot get one. */
  nuspec(id: string, version: string): Promise<Nuspec | undefined>;
  /** The registration index and every page it does not inline; false when the id has none. */
  registration(id: string): Promise<boolean>;
  /** The service index and the vulnerability index with every page it links; the number of pages. */
  vulnerabilities(): Promise<number>;
  serviceIndex(): Promise<void>;
  /** True when a source that may serve the id holds the package (no network). */
  holds(id: string, version: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The config the in-process app runs with: links resolvable against BASE, no read auth (nothing listens), no
 * background warming (prefetch does the walk itself), online or offline as asked.
 */
export function inProcessConfig(config: Config, offline: boolean): Config {
  return { ...config, publicUrl: BASE, offline, auth: { ...config.auth, read: false }, warm: { ...config.warm, enabled: false } };
}

export async function openLocalFeed(config: Config, log: Logger, opts: { offline: boolean }): Promise<LocalFeed> {
  const nugate: NugateApp = await createApp({ config: inProcessConfig(config, opts.offline), log });
  const feed: Feed = { name: 'merged', path: 'v3/', sources: nugate.services.sources };

  const get = (path: string): Promise<Response> => Promise.resolve(nugate.app.request(new URL(path, BASE).href));

  async function json(path: string, what: string): Promise<unknown> {
    const res = await get(path);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status !== 200) throw new FeedRequestError(what, res.status, await res.text());
    return res.json();
  }

  /** A package file: sent either as a Response or, from disk or a download, piped raw into `c.env.outgoing`. */
  async function file(path: string, keep: boolean): Promise<{ status: number; state: string; bytes: number; data: Buffer }> {
    const sink = new Sink(keep);
    // The raw pipe only needs a writable with writeHead (http/respond.ts sendBlob); nothing else reads the bindings.
    const env = { outgoing: sink } as unknown as HttpBindings;
    const res = await nugate.app.request(new URL(path, BASE).href, undefined, env);
    if (sink.status !== 0) {
      await finished(sink);
      return { status: sink.status, state: sink.headers['x-cache'] ?? 'MISS', bytes: sink.bytes, data: Buffer.concat(sink.chunks) };
    }
    const data = Buffer.from(await res.arrayBuffer());
    return { status: res.status, state: res.headers.get('x-cache') ?? 'MISS', bytes: data.length, data };
  }

  /** Any source that may serve the id holds the file (no network). */
  async function held(id: string, version: string, kind: BlobFile): Promise<boolean> {
    const v = lowerNormalized(version) ?? version;
    for (const src of eligibleSources(nugate.services, feed, id)) if (await src.holds(id, v, kind)) return true;
    return false;
  }

  /**
   * A download's body ends before the blob cache has verified and indexed it; a download that fails verification
   * streams to the end all the same. So a package counts only once it is held (bounded wait).
   */
  async function stored(id: string, version: string, kind: BlobFile, waitMs = STORE_WAIT_MS): Promise<boolean> {
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      if (await held(id, version, kind)) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }

  /** A link in a document nugate rendered, as a path of the in-process app; undefined for anything else. */
  const localPath = (url: unknown): string | undefined => (typeof url === 'string' && url.startsWith(BASE) ? url.slice(BASE.length - 1) : undefined);

  return {
    async versions(id) {
      const doc = await json(`/v3/flatcontainer/${id.toLowerCase()}/index.json`, `versions of ${id}`);
      if (!isJsonObject(doc) || !Array.isArray(doc.versions)) return undefined;
      return doc.versions.filter((v): v is string => typeof v === 'string');
    },
    async nupkg(id, version) {
      const lower = id.toLowerCase();
      // Read to the end: a download is verified and indexed as it completes.
      const got = await file(`/v3/flatcontainer/${lower}/${version}/${lower}.${version}.nupkg`, false);
      if (got.status !== 200) throw new FeedRequestError(`${id} ${version}`, got.status, got.data.toString('utf8'));
      if (got.state !== 'HIT' && !(await stored(lower, version, 'nupkg'))) throw new Error(`${id} ${version}: downloaded but not stored (it failed verification; see the log)`);
      return { state: got.state, bytes: got.bytes };
    },
    async nuspec(id, version) {
      const lower = id.toLowerCase();
      const got = await file(`/v3/flatcontainer/${lower}/${version}/${lower}.nuspec`, true);
      if (got.status !== 200) return undefined;
      // A held package serves its own nuspec; one fetched before the package (a dry run) is let finish storing,
      // so closing the app does not cut it off.
      if (got.state === 'MISS') await stored(lower, version, 'nuspec', NUSPEC_WAIT_MS);
      return parseNuspec(got.data);
    },
    async registration(id) {
      const index = await json(`/v3/registration/${id.toLowerCase()}/index.json`, `registration of ${id}`);
      if (!isJsonObject(index)) return false;
      for (const page of Array.isArray(index.items) ? index.items : []) {
        if (!isJsonObject(page) || Array.isArray(page.items)) continue;
        const path = localPath(page['@id']);
        if (path !== undefined) await json(path, `registration page of ${id}`);
      }
      return true;
    },
    async vulnerabilities() {
      const index = await json('/v3/vulnerabilities/index.json', 'vulnerability index');
      let pages = 0;
      for (const entry of Array.isArray(index) ? index : []) {
        const path = isJsonObject(entry) ? localPath(entry['@id']) : undefined;
        if (path === undefined) continue;
        await json(path, 'vulnerability page');
        pages++;
      }
      return pages;
    },
    async serviceIndex() {
      await json('/v3/index.json', 'service index');
    },
    holds(id, version) {
      return held(id.toLowerCase(), version, 'nupkg');
    },
    async close() {
      await nugate.settle().catch(() => undefined);
      await nugate.close();
    },
  };
}
