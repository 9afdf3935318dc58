/**
 * Issue 8: "A blob evicted while it is being sent gives the client an empty reply, and nothing is logged."
 * sendBlob used to open the file by path after the lookup; an eviction in between (a publish, the size cap)
 * unlinked it first. Now the lookup hands out an open file, and sendBlob streams that.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createCache, type Cache } from '../../../src/cache/index.ts';
import { sendBlob, type Env } from '../../../src/http/respond.ts';
import { bodyOf, FakeClock, makeConfig, NEWTONSOFT, readBody, tempDir, until } from './support.ts';

async function serveEvicting(t: TestContext, cache: Cache, warnings: string[]): Promise<string> {
  const app = new Hono<Env>();
  app.get('/pkg', async (c) => {
    const blob = await cache.blobs.get(NEWTONSOFT.key, async () => 'notFound');
    if (blob === undefined) return c.text('not cached', 404);
    // The eviction lands between the lookup and the send: the worst moment.
    await cache.blobs.evictId(NEWTONSOFT.key.id);
    return sendBlob(c, blob, 'application/octet-stream', { warn: (_obj, msg) => warnings.push(msg) });
  });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/pkg`;
}

describe('sending a stored blob', () => {
  it('sends every byte of a blob evicted between lookup and send', async (t) => {
    const dir = await tempDir(t);
    // hotMaxEntrySize 1 KB: the package is served from its file, not from memory.
    const cache = await createCache({ config: makeConfig(dir, { hotMaxEntrySize: 1024 }), clock: new FakeClock() });
    t.after(() => cache.close());
    const data = await readFile(NEWTONSOFT.path);
    await readBody((await cache.blobs.get(NEWTONSOFT.key, async () => bodyOf(data)))?.body ?? assert.fail());
    const warnings: string[] = [];
    const url = await serveEvicting(t, cache, warnings);

    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-cache'), 'HIT');
    assert.equal(res.headers.get('content-length'), String(data.length));
    const got = Buffer.from(await res.arrayBuffer());
    assert.equal(got.length, data.length, 'not an empty reply');
    assert.ok(got.equals(data));
    assert.deepEqual(warnings, []);
    assert.equal(await cache.blobs.has(NEWTONSOFT.key), false, 'and it was evicted');
  });

  it('logs a send that fails mid-way (the client sees a truncated body)', async (t) => {
    const warnings: string[] = [];
    const app = new Hono<Env>();
    app.get('/broken', (c) => {
      const stream = Readable.from((async function* () {
        yield Buffer.alloc(64 * 1024, 1);
        throw new Error('disk read failed');
      })());
      return sendBlob(c, { body: { kind: 'stream', stream }, size: 1 << 20, contentType: 'application/octet-stream', state: 'MISS' }, 'application/octet-stream', {
        warn: (_obj, msg) => warnings.push(msg),
      });
    });
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    await assert.rejects(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/broken`);
      await res.arrayBuffer();
    });
    await until(() => warnings.length > 0, 'the warning');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /failed mid-way/);
  });
});
