/**
 * Helpers for the many-processes tests (issue 10, test/integration/ha*.test.ts): a V3 feed whose package bodies
 * can be made to trickle (so a test can kill the process that is downloading), counting every request; a push
 * through nugate's publish endpoint; concurrent GETs; the bytes a blob folder holds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildNupkg } from './e2e-nupkg.ts';

export interface HaFeed {
  indexUrl: string;
  /** How many requests a path containing `fragment` got. */
  count(fragment: string): number;
  /** The package's bytes as the feed serves them. */
  nupkg(id: string, version: string): Buffer;
  add(id: string, version: string, size: number): void;
  /** Milliseconds between 16 KB chunks of a package body (0: all at once). */
  trickleMs: number;
  close(): Promise<void>;
}

const CHUNK = 16 * 1024;

/** A package of about `size` bytes: random padding, stored uncompressed so the size is what was asked for. */
export function paddedNupkg(id: string, version: string, size: number): Buffer {
  return Buffer.from(buildNupkg({ id, version, files: { 'content/padding.bin': randomBytes(Math.max(0, size - 600)), 'lib/net8.0/_._': new Uint8Array(0) } }));
}

export async function startHaFeed(): Promise<HaFeed> {
  const packages = new Map<string, Buffer>();
  const hits: string[] = [];
  let origin = '';
  const state = { trickleMs: 0 };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.push(path);
    if (path === '/v3/index.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: '3.0.0', resources: [{ '@id': `${origin}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }] }));
      return;
    }
    const list = /^\/flat\/([^/]+)\/index\.json$/.exec(path);
    if (list?.[1] !== undefined) {
      const versions = [...packages.keys()].filter((k) => k.startsWith(`${list[1]}/`)).map((k) => k.split('/')[1]);
      res.writeHead(versions.length === 0 ? 404 : 200, { 'content-type': 'application/json' });
      res.end(versions.length === 0 ? '' : JSON.stringify({ versions }));
      return;
    }
    const file = /^\/flat\/([^/]+)\/([^/]+)\/[^/]+\.nupkg$/.exec(path);
    const body = file === null ? undefined : packages.get(`${file[1]}/${file[2]}`);
    if (body === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
    if (state.trickleMs <= 0) {
      res.end(body);
      return;
    }
    let offset = 0;
    const timer = setInterval(() => {
      res.write(body.subarray(offset, offset + CHUNK));
      offset += CHUNK;
      if (offset >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, state.trickleMs);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    indexUrl: `${origin}/v3/index.json`,
    count: (fragment) => hits.filter((h) => h.includes(fragment)).length,
    nupkg(id, version) {
      const body = packages.get(`${id.toLowerCase()}/${version.toLowerCase()}`);
      if (body === undefined) throw new Error(`no package ${id} ${version}`);
      return body;
    },
    add(id, version, size) {
      packages.set(`${id.toLowerCase()}/${version.toLowerCase()}`, paddedNupkg(id, version, size));
    },
    get trickleMs() {
      return state.trickleMs;
    },
    set trickleMs(ms: number) {
      state.trickleMs = ms;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The flat-container URL of a package through a nugate. */
export function nupkgUrl(base: string, id: string, version: string): string {
  const lid = id.toLowerCase();
  return `${base}/v3/flatcontainer/${lid}/${version}/${lid}.${version}.nupkg`;
}

/** GETs a URL; the status and the whole body (a connection that breaks rejects). */
export async function getBytes(url: string, timeoutMs = 60_000): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** Pushes a package through nugate's publish endpoint (multipart, as the NuGet client sends it). */
export async function pushPackage(base: string, pkg: Buffer, apiKey: string): Promise<number> {
  const boundary = randomBytes(8).toString('hex');
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg\r\n\r\n`),
    pkg,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await fetch(`${base}/v3/package`, {
    method: 'PUT',
    headers: { 'content-type': `multipart/form-data; boundary="${boundary}"`, 'x-nuget-apikey': apiKey, 'x-nuget-protocol-version': '4.1.0', connection: 'close' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Bytes of the complete blobs under a cache folder (temp and lock files are dot names and not counted). The
 * evictor may remove a file between readdir and stat: a file gone by then counts as gone.
 */
export async function blobBytes(cacheDir: string): Promise<number> {
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else total += await sizeOrZero(path);
    }
  };
  await walk(join(cacheDir, 'blobs'));
  return total;
}

async function sizeOrZero(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last value. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Asserts every body equals `expected`, naming how many differ. */
export function assertAllEqual(bodies: Buffer[], expected: Buffer): void {
  const wrong = bodies.filter((b) => !b.equals(expected)).length;
  assert.equal(wrong, 0, `${wrong} of ${bodies.length} bodies differ from the package (lengths: ${[...new Set(bodies.map((b) => b.length))].join(', ')}, expected ${expected.length})`);
}

/**
 * A publish through `via` reaches what `other` holds in memory about the id: `other` has cached the upstream's
 * version list (fresh for ttl.metadata), the upstream gains a version, then a push of the id to the folder through
 * `via` must make `other` ask the upstream again on its next request. Returns what `other` lists afterwards.
 */
export async function listedAfterPush(feed: HaFeed, via: string, other: string, id: string, apiKey: string): Promise<string[]> {
  const lower = id.toLowerCase();
  feed.add(id, '1.0.0', 2048);
  // New connections every time: node:cluster hands them to the workers in turn, so push and reads alternate.
  const list = async (): Promise<unknown> => (await fetch(`${other}/v3/flatcontainer/${lower}/index.json`, { headers: { connection: 'close' } })).json();
  const before = await list();
  assert.deepEqual(before, { versions: ['1.0.0'] });
  feed.add(id, '1.5.0', 2048);
  assert.equal(await pushPackage(via, paddedNupkg(id, '2.0.0', 2048), apiKey), 201);
  const after = (await list()) as { versions: string[] };
  return after.versions;
}

/**
 * Fetches 16 packages of 1.25 MB (20 MB in all) four at a time, the i-th through `baseOf(i)`, then waits (up to
 * 15 s) for the blob folder to be within `cap`. Returns the bytes it holds then.
 */
export async function fillPastCap(feed: HaFeed, prefix: string, baseOf: (i: number) => string, cacheDir: string, cap: number): Promise<number> {
  for (let i = 0; i < 16; i++) feed.add(`${prefix}${i}`, '1.0.0', 1280 * 1024);
  for (let i = 0; i < 16; i += 4) {
    await Promise.all([0, 1, 2, 3].map((j) => getBytes(nupkgUrl(baseOf(i + j), `${prefix}${i + j}`, '1.0.0'))));
  }
  let held = 0;
  await eventually(async () => (held = await blobBytes(cacheDir)) <= cap, 15_000);
  return held;
}

/**
 * 50 concurrent GETs of a new 1 MB package whose body trickles, the i-th through `baseOf(i)`: every answer must
 * be 200 with the package's bytes. Returns how many requests the upstream got for the package.
 */
export async function coldGets(feed: HaFeed, id: string, baseOf: (i: number) => string): Promise<number> {
  feed.add(id, '1.0.0', 1024 * 1024);
  feed.trickleMs = 5;
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => getBytes(nupkgUrl(baseOf(i), id, '1.0.0'))));
  feed.trickleMs = 0;
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
  assertAllEqual(answers.map((r) => r.body), feed.nupkg(id, '1.0.0'));
  return feed.count(`/flat/${id.toLowerCase()}/1.0.0/`);
}
