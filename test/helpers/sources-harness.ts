/**
 * Small pieces shared by the Source integration tests (test/integration/sources*.test.ts): one GET that keeps
 * status, headers and body, registration leaves read out of an index, and a leak check on everything nugate sent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLeaks } from '../../src/nuget/rewrite.ts';
import { startShapedFeed, type ShapedFeed, type ShapedFeedOptions } from './shaped-feed.ts';
import { startNugateInProcess, type Running, type TestClock } from './inproc.ts';
import type { ConfigInput } from '../../src/config/schema.ts';

export interface Got {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  /** How long the request took, ms. */
  ms: number;
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Got> {
  const started = performance.now();
  const r = await fetch(url, { headers });
  let text: string;
  try {
    text = await r.text();
  } catch (err) {
    // The body broke off: keep the status so the test says what happened.
    text = `<body failed: ${String(err)}>`;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json, ms: performance.now() - started };
}

/** A package download: the bytes, or what went wrong reading them (the client sees an error or a short body). */
export async function download(url: string): Promise<{ status: number; bytes?: Buffer; error?: string }> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (err) {
    return { status: 0, error: String(err) };
  }
  try {
    return { status: r.status, bytes: Buffer.from(await r.arrayBuffer()) };
  } catch (err) {
    return { status: r.status, error: String(err) };
  }
}

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The leaves of a registration index whose pages are inlined (fewer than 128 versions). */
export function inlinedLeaves(index: unknown): JsonObject[] {
  if (!isObject(index) || !Array.isArray(index.items)) throw new Error(`not a registration index: ${JSON.stringify(index).slice(0, 300)}`);
  const out: JsonObject[] = [];
  for (const page of index.items) {
    if (!isObject(page) || !Array.isArray(page.items)) throw new Error('registration page is not inlined');
    for (const leaf of page.items) if (isObject(leaf)) out.push(leaf);
  }
  return out;
}

export function catalogEntry(leaf: JsonObject): JsonObject {
  const entry = leaf.catalogEntry;
  if (!isObject(entry)) throw new Error(`leaf without a catalogEntry object: ${JSON.stringify(leaf).slice(0, 300)}`);
  return entry;
}

/**
 * Every place in a response (body and header values) that names an upstream: its origin, its host:port, its port
 * after a colon. Returns human-readable excerpts; empty when clean.
 */
export function upstreamTraces(got: { text: string; headers: Headers }, upstreams: Array<{ origin: string; port: string }>): string[] {
  const needles = upstreams.flatMap((u) => [u.origin, u.origin.replace(/^https?:\/\//, ''), `:${u.port}`]);
  const headerText = [...got.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
  const leaks = [...findLeaks(got.text, needles), ...findLeaks(headerText, needles)];
  if (/127\.0\.0\.1/.test(got.text) || /127\.0\.0\.1/.test(headerText)) leaks.push('127.0.0.1');
  return leaks;
}

export async function tempDir(defer: (cleanup: () => Promise<void>) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-sources-it-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The public URL every sources test starts nugate with: any loopback address or port in an answer is a leak. */
export const PUBLIC = 'http://nugate.test';

/**
 * Servers a test file starts, stopped after its tests: a shaped upstream feed and nugate in process on PUBLIC.
 *
 * @example
 * const scope = testScope(); after(() => scope.close());
 * const up = await scope.feed({ ... }); const ng = await scope.nugate({ upstreams: [...] });
 */
export function testScope(): {
  feed(opts: ShapedFeedOptions): Promise<ShapedFeed>;
  nugate(input: Omit<ConfigInput, 'listen'>, opts?: { clock?: TestClock; cacheDir?: string }): Promise<Running>;
  defer(cleanup: () => Promise<void>): void;
  close(): Promise<void>;
} {
  const cleanups: Array<() => Promise<void>> = [];
  return {
    async feed(opts) {
      const f = await startShapedFeed(opts);
      cleanups.push(() => f.close());
      return f;
    },
    async nugate(input, opts = {}) {
      const ng = await startNugateInProcess({ publicUrl: PUBLIC, ...input }, opts);
      cleanups.push(() => ng.stop());
      return ng;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    async close() {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
}
