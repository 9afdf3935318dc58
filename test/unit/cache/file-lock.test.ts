/**
 * Lock files on the shared cache volume (src/cache/file-lock.ts) and what is built on them: the shared blob totals
 * (shared-totals.ts) and the journal of downloads, which must never judge another host's download by its pid.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FsBlobStore } from '../../../src/cache/blob-fs.ts';
import { inspectLock, tryLock } from '../../../src/cache/file-lock.ts';
import { fileTotals } from '../../../src/cache/shared-totals.ts';
import { tempDir } from './support.ts';

/** The pid of a process that has exited (so nothing on this host has it for now). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid ?? assert.fail('no pid');
  await once(child, 'exit');
  return pid;
}

const owner = (host: string, pid: number, token: string): string => JSON.stringify({ host, pid, token });

describe('file locks', () => {
  it('one holder at a time; free again once released', async (t) => {
    const path = join(await tempDir(t), 'x.lock');
    const first = await tryLock(path);
    assert.ok(first);
    assert.equal(await tryLock(path), undefined);
    assert.equal((await inspectLock(path))?.alive, true);
    await first.release();
    const second = await tryLock(path);
    assert.ok(second);
    await second.release();
    assert.equal(await inspectLock(path), undefined);
  });

  it('takes over the lock of a process of this host that is gone (kill -9), at once', async (t) => {
    const path = join(await tempDir(t), 'x.lock');
    await writeFile(path, owner(hostname(), await deadPid(), 'dead'));
    assert.equal((await inspectLock(path))?.alive, false);
    const lease = await tryLock(path);
    assert.ok(lease, 'a dead holder keeps nobody out');
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid);
    await lease.release();
  });

  it('takes over a lock left with this pid by a previous process (a restarted container is pid 1 again)', async (t) => {
    const path = join(await tempDir(t), 'x.lock');
    await writeFile(path, owner(hostname(), process.pid, 'an-earlier-life'));
    const lease = await tryLock(path);
    assert.ok(lease);
    await lease.release();
  });

  it('judges another host only by its heartbeat', async (t) => {
    const path = join(await tempDir(t), 'x.lock');
    await writeFile(path, owner('another-host', process.pid + 1, 'remote'));
    assert.equal(await tryLock(path, { staleMs: 5000 }), undefined, 'a fresh remote holder keeps the lock');
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const lease = await tryLock(path, { staleMs: 5000 });
    assert.ok(lease, 'a silent remote holder is dead');
    await lease.release();
  });

  it('a holder judged dead never removes its successor\'s lock', async (t) => {
    const path = join(await tempDir(t), 'x.lock');
    const first = await tryLock(path);
    assert.ok(first);
    // Someone else took it over (as if this process had been judged dead).
    await writeFile(path, owner('another-host', 1, 'successor'));
    await first.release();
    assert.equal(JSON.parse(await readFile(path, 'utf8')).token, 'successor');
  });

  it('shared totals: concurrent increments are all counted', async (t) => {
    const totals = fileTotals(join(await tempDir(t), 'coord', 'totals.json'));
    await Promise.all(Array.from({ length: 40 }, () => totals.add({ bytes: 10, count: 1 })));
    assert.deepEqual(await totals.get(), { bytes: 400, count: 40 });
    await totals.add({ bytes: -1000, count: -100 });
    assert.deepEqual(await totals.get(), { bytes: 0, count: 0 }, 'never below zero');
  });

  it('start-up cleanup leaves the downloads of another host alone', async (t) => {
    const root = join(await tempDir(t), 'blobs');
    const folder = join(root, 'a', '1.0.0', 'up');
    await mkdir(join(root, '.inflight'), { recursive: true });
    await mkdir(folder, { recursive: true });
    // Another host's download (its host tag differs), with a pid that means nothing here.
    const token = `${await deadPid()}-0ther0st-0123456789abcdef`;
    await writeFile(join(folder, `.nupkg.${token}.tmp`), 'partial');
    await writeFile(join(root, '.inflight', token), `a/1.0.0/up/.nupkg.${token}.tmp`);
    assert.equal(await new FsBlobStore(root).init(), 0);
    assert.equal(await readFile(join(folder, `.nupkg.${token}.tmp`), 'utf8'), 'partial');
  });
});
