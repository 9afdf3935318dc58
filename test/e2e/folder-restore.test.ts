/**
 * A real `dotnet restore` through nugate whose only upstream is a folder of packages: the machine's
 * global-packages folder, `file:///opt/nuget/packages` (hierarchical layout, signed packages with .sha512 files).
 * The restore succeeds, gets byte-identical packages, and the client never sees the folder's synthetic URLs.
 *
 * Topology: /opt/nuget/packages ← nugate (child process, folder upstream) ← dotnet (isolated, knows only nugate).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { describeResult, verifySignatures } from '../helpers/dotnet.ts';
import { assertRestoredLikeStore, filesUnder, restoreDeep } from '../helpers/restore-project.ts';
import { nugateConfigFor, startNugate } from '../helpers/nugate-process.ts';
import { DEFAULT_PACKAGES_ROOT, loadPackages } from '../helpers/packages.ts';

const SYNTHETIC_HOST = 'folder.nugate.invalid';
test('dotnet restore through nugate whose only upstream is a folder of packages', { timeout: 300_000 }, async (t) => {
  const store = await loadPackages();
  const folderUrl = pathToFileURL(DEFAULT_PACKAGES_ROOT).href;
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'folder', url: folderUrl }]) });
  t.after(() => nugate.stop());
  const { dotnet } = await restoreDeep(t, nugate, { mustNotAppear: [SYNTHETIC_HOST] });

  // Every restored package is byte-identical to the file in the folder, installed from nugate.
  await assertRestoredLikeStore(dotnet, store, { source: nugate.indexUrl });

  // Nothing the client cached or wrote names the folder's synthetic URLs.
  const assets = await readFile(join(dotnet.dir, 'Tests', 'obj', 'project.assets.json'), 'utf8');
  assert.ok(!assets.includes(SYNTHETIC_HOST), 'the synthetic host leaked into project.assets.json');
  for (const file of await filesUnder(dotnet.httpCacheDir)) {
    const body = await readFile(file, 'utf8');
    assert.ok(!body.includes(SYNTHETIC_HOST), `nugate leaked ${SYNTHETIC_HOST} in a response the client cached: ${file}\n${body.slice(0, 500)}`);
  }

  // Signatures survive the folder and the proxy.
  const verify = await verifySignatures(join(dotnet.packagesDir, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'));
  assert.equal(verify.code, 0, describeResult(verify));
  assert.match(verify.stdout, /Successfully verified package 'xunit\.2\.9\.3'/);
});
