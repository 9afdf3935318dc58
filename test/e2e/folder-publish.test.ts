/**
 * A folder upstream as a hosted feed, with the real client (README "Folder upstreams", design.md §6,
 * protocol.md §5 items 46–54): `dotnet nuget push` through nugate stores the package in the folder,
 * `--skip-duplicate` turns the second push's 409 into success, and a restore with fresh client caches gets the
 * package back byte for byte. `dotnet nuget delete` unlists it, and restoring that exact version still works.
 * nugate checks the key itself (publish.keyMode "mapped"); the key never reaches a log line.
 *
 * Topology: a temp folder ← nugate (child process, folder upstream, publish.upstream) ← dotnet (isolated).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { FORBIDDEN_NUGET_CODES, describeResult, makeIsolatedDotnet, nugetCodes, requestedUrls, type DotnetResult } from '../helpers/dotnet.ts';
import { writeNupkg } from '../helpers/e2e-nupkg.ts';
import { nugateConfigFor, startNugate, type NugateProcess } from '../helpers/nugate-process.ts';
import { sha512OfFile } from '../helpers/packages.ts';

const KEY = `oy2${randomBytes(20).toString('hex')}`;
const WRONG_KEY = `oy2${randomBytes(20).toString('hex')}`;
const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A project referencing the package, restored by a client with empty caches; returns the restore result. */
async function restoreFresh(nugate: NugateProcess, name: string, version: string): Promise<{ r: DotnetResult; packagesDir: string; cleanup: () => Promise<void> }> {
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  const project = await dotnet.writeProject(name, [{ id: 'Hosted.Lib', version }]);
  const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n'], { timeoutMs: 120_000 });
  return { r, packagesDir: dotnet.packagesDir, cleanup: () => dotnet.cleanup() };
}

test('dotnet nuget push / --skip-duplicate / restore / delete with a folder upstream as the target', { timeout: 300_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'nugate-hosted-e2e-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const folder = await mkdtemp(join(tmpdir(), 'nugate-hosted-folder-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const pkg = await writeNupkg(work, { id: 'Hosted.Lib', version: '1.0.0' });

  const nugate = await startNugate({
    config: nugateConfigFor([{ name: 'hosted', url: pathToFileURL(folder).href }], {
      publish: { upstream: 'hosted', keyMode: 'mapped', keys: [{ name: 'ci', sha256: sha256hex(KEY) }] },
      log: { level: 'debug' },
    }),
  });
  t.after(() => nugate.stop());
  const pusher = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => pusher.cleanup());
  const context = (r: DotnetResult): string => `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  const stored = join(folder, 'hosted.lib', '1.0.0', 'hosted.lib.1.0.0.nupkg');

  await t.test('push: stored in the folder, byte for byte', async () => {
    const r = await pusher.run(['nuget', 'push', pkg.path, '-s', nugate.indexUrl, '-k', KEY, '--configfile', pusher.configFile], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, context(r));
    assert.match(r.stdout, /Your package was pushed/, context(r));
    assert.equal(await sha512OfFile(stored), pkg.sha512);
    assert.equal((await readFile(`${stored}.sha512`, 'utf8')).trim(), pkg.sha512);
  });

  await t.test('push again with --skip-duplicate: 409, the client exits 0, the file is unchanged', async () => {
    const r = await pusher.run(['nuget', 'push', pkg.path, '-s', nugate.indexUrl, '-k', KEY, '--skip-duplicate', '--configfile', pusher.configFile], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, context(r));
    assert.match(`${r.stdout}${r.stderr}`, /already exists/i, context(r));
    assert.match(nugate.logs(), /"op":"push"[^\n]*"status":409/, 'nugate did not log the 409');
    assert.deepEqual(await readdir(join(folder, 'hosted.lib', '1.0.0')), ['hosted.lib.1.0.0.nupkg', 'hosted.lib.1.0.0.nupkg.sha512']);
  });

  await t.test('a wrong key: 403, nothing stored', async () => {
    const other = await writeNupkg(work, { id: 'Hosted.Lib', version: '2.0.0' });
    const r = await pusher.run(['nuget', 'push', other.path, '-s', nugate.indexUrl, '-k', WRONG_KEY, '--configfile', pusher.configFile], { timeoutMs: 90_000 });
    assert.notEqual(r.code, 0, context(r));
    assert.match(`${r.stdout}${r.stderr}`, /403/, context(r));
    assert.deepEqual(await readdir(join(folder, 'hosted.lib')), ['1.0.0']);
  });

  await t.test('a restore with fresh client caches gets the pushed package through nugate', async () => {
    const { r, packagesDir, cleanup } = await restoreFresh(nugate, 'Consumer', '1.0.0');
    t.after(cleanup);
    assert.equal(r.code, 0, context(r));
    const codes = nugetCodes(r);
    for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${context(r)}`);
    for (const u of requestedUrls(r)) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
    assert.equal(await sha512OfFile(join(packagesDir, 'hosted.lib', '1.0.0', 'hosted.lib.1.0.0.nupkg')), pkg.sha512);
  });

  await t.test('delete unlists: the file stays, registration says listed: false, an exact restore still works', async () => {
    const r = await pusher.run(['nuget', 'delete', 'Hosted.LIB', '1.0.0.0', '-s', nugate.indexUrl, '-k', KEY, '--non-interactive'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, context(r));
    assert.equal(await sha512OfFile(stored), pkg.sha512, 'an unlist must keep the package');
    const reg = (await (await fetch(`${nugate.baseUrl}/v3/registration/hosted.lib/index.json`)).json()) as { items: Array<{ items: Array<{ catalogEntry: { listed?: boolean } }> }> };
    assert.equal(reg.items[0]?.items[0]?.catalogEntry.listed, false);

    const again = await restoreFresh(nugate, 'Pinned', '[1.0.0]');
    t.after(again.cleanup);
    assert.equal(again.r.code, 0, context(again.r));
    assert.equal(await sha512OfFile(join(again.packagesDir, 'hosted.lib', '1.0.0', 'hosted.lib.1.0.0.nupkg')), pkg.sha512);
  });

  await t.test('the key never reaches a log line', () => {
    assert.ok(nugate.logs().includes('publish push'), 'nugate logged no push at all, so this check proves nothing');
    assert.ok(!nugate.logs().includes(KEY), 'the key appears in nugate\'s logs');
    assert.ok(!nugate.logs().includes(WRONG_KEY), 'a rejected key appears in nugate\'s logs');
  });
});
