/** Shared bits for the cache tests: a fake clock, configs on a temp dir, bodies, packages. */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { parseConfig } from '../../../src/config/load.ts';
import type { Config, ConfigInput } from '../../../src/config/schema.ts';
import { readBlobBody } from '../../../src/cache/blob-body.ts';
import type { BlobBody, BlobKey, UpstreamBody } from '../../../src/cache/types.ts';

export class FakeClock {
  constructor(private t = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function makeConfig(dir: string, cache: Partial<NonNullable<ConfigInput['cache']>> = {}, extra: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    upstreams: [
      { name: 'nuget.org', url: 'https://api.nuget.org/v3/index.json' },
      { name: 'slow', url: 'https://slow.example/v3/index.json', ttl: { metadata: '1h' } },
    ],
    ...extra,
    cache: { dir, ...cache },
  });
}

export const PACKAGES = '/opt/nuget/packages';
export const NEWTONSOFT = {
  path: `${PACKAGES}/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`,
  key: { upstream: 'nuget.org', id: 'newtonsoft.json', version: '13.0.3', file: 'nupkg' } satisfies BlobKey,
};
export const XUNIT = {
  path: `${PACKAGES}/xunit/2.9.3/xunit.2.9.3.nupkg`,
  key: { upstream: 'nuget.org', id: 'xunit', version: '2.9.3', file: 'nupkg' } satisfies BlobKey,
};
export const XUNIT_CORE = {
  path: `${PACKAGES}/xunit.core/2.9.3/xunit.core.2.9.3.nupkg`,
  key: { upstream: 'nuget.org', id: 'xunit.core', version: '2.9.3', file: 'nupkg' } satisfies BlobKey,
};
export const TEST_SDK = {
  path: `${PACKAGES}/microsoft.net.test.sdk/18.0.1/microsoft.net.test.sdk.18.0.1.nupkg`,
  key: { upstream: 'nuget.org', id: 'microsoft.net.test.sdk', version: '18.0.1', file: 'nupkg' } satisfies BlobKey,
};
export const XUNIT_ABSTRACTIONS = {
  path: `${PACKAGES}/xunit.abstractions/2.0.3/xunit.abstractions.2.0.3.nupkg`,
  key: { upstream: 'nuget.org', id: 'xunit.abstractions', version: '2.0.3', file: 'nupkg' } satisfies BlobKey,
};

export function sha512(data: Buffer): string {
  return createHash('sha512').update(data).digest('base64');
}

/** An upstream body that delivers `data` in chunks, with its Content-Length. */
export function bodyOf(data: Buffer, extra: Partial<UpstreamBody> = {}): UpstreamBody {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += 16 * 1024) chunks.push(data.subarray(i, i + 16 * 1024));
  return { stream: Readable.from(chunks), length: data.length, ...extra };
}

/** A body the test feeds by hand. */
export function controlledBody(length?: number): { body: UpstreamBody; feed: PassThrough } {
  const feed = new PassThrough();
  const body: UpstreamBody = { stream: feed };
  if (length !== undefined) body.length = length;
  return { body, feed };
}

/** Reads a whole body the way a client would (a file body's handle is closed by its stream). */
export function readBody(body: BlobBody): Promise<Buffer> {
  return readBlobBody(body);
}

/** Every file under a folder, relative paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Counts loader calls: the number of "upstream requests". */
export function counter<A extends unknown[], R>(fn: (...args: A) => Promise<R>): { fn: (...args: A) => Promise<R>; readonly calls: number } {
  let calls = 0;
  return {
    fn: (...args: A) => {
      calls++;
      return fn(...args);
    },
    get calls() {
      return calls;
    },
  };
}

/** Lets pending I/O callbacks and microtasks run (not a timed sleep). */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Lets I/O run until `cond` holds (no timers, no sleeping); gives up only after many turns of the event loop
 * and a generous 20 s, so a machine busy with other tests cannot make it fail early.
 */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < 10_000 || Date.now() - started < 20_000; i++) {
    if (cond()) return;
    await tick();
  }
  throw new Error(`gave up waiting for ${what}`);
}
