/**
 * kill -9 in the middle of concurrent downloads: no corrupt blob is ever indexed, and the temp files it
 * left are removed when the cache opens again (from the journal alone).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { createCache } from '../../../src/cache/index.ts';
import type { BlobKey } from '../../../src/cache/types.ts';
import { bodyOf, counter, FakeClock, listFiles, makeConfig, NEWTONSOFT, readBody, tempDir } from './support.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const child = join(repo, 'test/helpers/blob-crash-child.ts');

const interrupted: Array<[BlobKey, string]> = [
  [{ upstream: 'nuget.org', id: 'xunit.assert', version: '2.9.3', file: 'nupkg' }, '/opt/nuget/packages/xunit.assert/2.9.3/xunit.assert.2.9.3.nupkg'],
  [{ upstream: 'nuget.org', id: 'xunit.analyzers', version: '1.26.0', file: 'nupkg' }, '/opt/nuget/packages/xunit.analyzers/1.26.0/xunit.analyzers.1.26.0.nupkg'],
  [{ upstream: 'nuget.org', id: 'system.collections.immutable', version: '8.0.0', file: 'nupkg' }, '/opt/nuget/packages/system.collections.immutable/8.0.0/system.collections.immutable.8.0.0.nupkg'],
];

it('a SIGKILL mid-download leaves no corrupt blob, and the temp files go at the next start', async (t) => {
  const dir = await tempDir(t);
  const proc = spawn(process.execPath, ['--import', 'tsx', child, dir], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolveReady, reject) => {
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('READY')) resolveReady();
    });
    proc.once('exit', (code, signal) => reject(new Error(`child exited (${String(code ?? signal)}) before READY:\n${stderr}`)));
  });
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  const [, signal] = await exited;
  assert.equal(signal, 'SIGKILL');

  const blobs = join(dir, 'blobs');
  const before = await listFiles(blobs);
  assert.equal(before.filter((f) => f.endsWith('.tmp')).length, interrupted.length, `the crash left its temp files: ${before.join(', ')}`);
  assert.equal(before.filter((f) => f.startsWith('.inflight/')).length, interrupted.length);

  const cache = await createCache({ config: makeConfig(dir), clock: new FakeClock() });
  t.after(() => cache.close());
  const after = await listFiles(blobs);
  assert.deepEqual(after.filter((f) => f.endsWith('.tmp') || f.startsWith('.inflight/')), [], 'temp files and journal cleaned at start');
  for (const [key] of interrupted) assert.equal(await cache.blobs.has(key), false, `${key.id} was never indexed`);

  // The download that finished before the crash is intact and needs no upstream request.
  const data = await readFile(NEWTONSOFT.path);
  const noUpstream = counter(async () => bodyOf(data));
  const kept = await cache.blobs.get(NEWTONSOFT.key, noUpstream.fn);
  assert.equal(kept?.state, 'HIT');
  assert.ok((await readBody(kept.body)).equals(data));
  assert.equal(noUpstream.calls, 0);

  // The interrupted ones download again, cleanly.
  for (const [key, path] of interrupted) {
    const bytes = await readFile(path);
    const r = await cache.blobs.get(key, async () => bodyOf(bytes));
    assert.equal(r?.state, 'MISS');
    assert.ok((await readBody(r.body)).equals(bytes));
    assert.equal(await cache.blobs.has(key), true);
  }
});
