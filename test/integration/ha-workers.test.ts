/**
 * Issue 10, one host: one nugate process with `workers: 2` on the embedded (file) store, the measured defects'
 * setup. Proves: concurrent cold requests through both workers make one upstream request; a push through one
 * worker is listed by the next request whichever worker takes it; kill -9 of the worker that is downloading
 * leaves the other answering complete, verified bytes; cache.maxSize holds for the folder as a whole.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startNugate, type NugateProcess } from '../helpers/nugate-process.ts';
import { assertAllEqual, coldGets, eventually, fillPastCap, getBytes, listedAfterPush, nupkgUrl, paddedNupkg, pushPackage, startHaFeed, type HaFeed } from '../helpers/ha.ts';

const KEY = `key-${randomUUID()}`;
const MAX_SIZE = 13 * 1024 * 1024;

describe('one process, workers: 2, embedded store', { timeout: 120_000 }, () => {
  let feed: HaFeed;
  let cacheDir: string;
  let hostedDir: string;
  let nugate: NugateProcess;

  before(async () => {
    feed = await startHaFeed();
    cacheDir = await mkdtemp(join(tmpdir(), 'nugate-haw-cache-'));
    hostedDir = await mkdtemp(join(tmpdir(), 'nugate-haw-hosted-'));
    nugate = await startNugate({
      config: {
        listen: { host: '127.0.0.1', port: 0 },
        workers: 2,
        upstreams: [
          { name: 'feed', url: feed.indexUrl, timeout: '30s' },
          { name: 'hosted', url: pathToFileURL(hostedDir).href },
        ],
        cache: { dir: cacheDir, store: 'file', maxSize: MAX_SIZE },
        publish: { upstream: 'hosted', keyMode: 'mapped', keys: [{ name: 'ci', sha256: createHash('sha256').update(KEY).digest('hex') }] },
        warm: { enabled: false },
        log: { level: 'info' },
      },
    });
    // Both workers listening: the primary hands connections to them in turn.
    assert.ok(await eventually(async () => (nugate.logs().match(/"nugate listening"/g) ?? []).length >= 2, 20_000), 'two workers listening');
  });
  after(async () => {
    await nugate?.stop();
    await feed?.close();
    for (const d of [cacheDir, hostedDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  // First, so each process's own share (about 10 MB) stays under the cap: only one total for the folder evicts.
  it('cache.maxSize holds for the shared folder as a whole', async () => {
    const held = await fillPastCap(feed, 'Haw.Cap', () => nugate.baseUrl, cacheDir, MAX_SIZE);
    const warnings = nugate.logs().split('\n').filter((l) => /"level":(40|50)|evict/.test(l));
    assert.ok(held <= MAX_SIZE, `${held} bytes of blobs on disk, cap ${MAX_SIZE}\n${warnings.join('\n')}`);
  });

  it('50 concurrent cold GETs through both workers: one upstream request, 50 identical bodies', async () => {
    assert.equal(await coldGets(feed, 'Haw.Cold', () => nugate.baseUrl), 1, 'upstream package requests');
  });

  it('a push through one worker is listed by every next request, whichever worker answers', async () => {
    // Fresh connections, so the primary spreads them over both workers.
    const listing = async (): Promise<Array<{ status: number; body: string }>> =>
      Promise.all(Array.from({ length: 8 }, async () => {
        const res = await fetch(`${nugate.baseUrl}/v3/flatcontainer/haw.pushed/index.json`, { headers: { connection: 'close' } });
        return { status: res.status, body: await res.text() };
      }));
    assert.deepEqual([...new Set((await listing()).map((r) => r.status))], [404]);
    assert.equal(await pushPackage(nugate.baseUrl, paddedNupkg('Haw.Pushed', '1.0.0', 2048), KEY), 201);
    assert.deepEqual([...new Set((await listing()).map((r) => r.body))], ['{"versions":["1.0.0"]}']);
    assert.equal(await pushPackage(nugate.baseUrl, paddedNupkg('Haw.Pushed', '2.0.0', 2048), KEY), 201);
    assert.deepEqual([...new Set((await listing()).map((r) => r.body))], ['{"versions":["1.0.0","2.0.0"]}']);
  });

  it('a publish through one worker drops what the other holds in memory about the id (IPC relay)', async () => {
    // One connection each way is enough to have hit both workers at some point; every answer must be the new list.
    for (let i = 0; i < 3; i++) {
      const versions = await listedAfterPush(feed, nugate.baseUrl, nugate.baseUrl, `Haw.Mixed${i}`, KEY);
      assert.deepEqual(versions, ['1.0.0', '1.5.0', '2.0.0'], `round ${i}`);
    }
  });

  it('kill -9 of the worker that is downloading: the other still answers complete, verified bytes', async () => {
    feed.add('Haw.Kill', '1.0.0', 2 * 1024 * 1024);
    feed.trickleMs = 15;
    const clients = Array.from({ length: 6 }, () => getBytes(nupkgUrl(nugate.baseUrl, 'Haw.Kill', '1.0.0'), 60_000).catch(() => undefined));
    const lock = join(cacheDir, 'blobs', 'haw.kill', '1.0.0', 'feed', '.nupkg.lock');
    let owner = 0;
    assert.ok(await eventually(async () => (owner = Number((/"pid":(\d+)/.exec(await readFile(lock, 'utf8').catch(() => '')) ?? [])[1] ?? 0)) > 0, 10_000, 20));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(owner, 'SIGKILL');
    const answers = (await Promise.all(clients)).filter((r): r is { status: number; body: Buffer } => r?.status === 200);
    feed.trickleMs = 0;
    // The clients of the killed worker lose their connection; the others get the whole, verified package.
    assert.ok(answers.length > 0, 'no client was served by the surviving worker');
    assertAllEqual(answers.map((r) => r.body), feed.nupkg('Haw.Kill', '1.0.0'));
    assert.equal(feed.count('/flat/haw.kill/1.0.0/'), 2, 'the dead download, then the one that took over');
  });
});
