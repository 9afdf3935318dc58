/**
 * Air gap (issue 11) in process, against a loopback upstream with real packages and stand-ins: prefetch (dry run,
 * resumable, failures named), export (whole cache, a pattern, --since), import (into an empty cache, twice, a
 * tampered bundle refused with the cache unchanged), then an offline nugate on the imported cache answers version
 * lists, registrations and vulnerability data (re-signed links) with the upstream gone.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import * as tar from 'tar';
import { exportBundle } from '../../src/airgap/export.ts';
import { importBundle } from '../../src/airgap/import.ts';
import type { CommandIo } from '../../src/airgap/io.ts';
import { prefetch } from '../../src/airgap/prefetch.ts';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { startAirgapFeed, STAND_INS, VULNERABLE } from '../helpers/airgap-feed.ts';

interface Ran {
  code: number;
  out: string;
  err: string;
}

function collector(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      w.text += chunk.toString('utf8');
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

async function run(fn: (io: CommandIo) => Promise<number>): Promise<Ran> {
  const out = collector();
  const err = collector();
  const code = await fn({ out, err, log: createLogger('silent') });
  return { code, out: out.text, err: err.text };
}

/** Every file under a folder with its size: "the cache is left exactly as it was". */
async function listing(dir: string): Promise<string[]> {
  const exists = await stat(dir).then(() => true, () => false);
  if (!exists) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const e of entries) if (e.isFile()) out.push(`${join(e.parentPath, e.name).slice(dir.length)} ${(await stat(join(e.parentPath, e.name))).size}`);
  return out.sort();
}

test('prefetch, export, import and an offline nugate on the imported cache', { timeout: 170_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'nugate-airgap-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const upstream = await startAirgapFeed();
  t.after(() => upstream.close());
  const configFor = (name: string): Config => parseConfig({ upstreams: [{ name: 'static', url: upstream.feed.indexUrl }], cache: { dir: join(root, name) }, log: { level: 'silent' } });
  const connected = configFor('connected');
  const list = join(root, 'packages.txt');
  await writeFile(list, `# the test closure\nxunit@[2.9.3]\nMicrosoft.NET.Test.Sdk@18.*\n${VULNERABLE.id}@${VULNERABLE.version}\n${VULNERABLE.id}@[${VULNERABLE.fixed}]\n`);
  // xunit and Test.Sdk closures for every framework, stand-ins included, and both versions of the vulnerable package.
  const closureSize = 14 + STAND_INS.length + 2; // 14 of the machine's 16 (not coverlet, not the VS runner)

  await t.test('--dry-run prints the plan and downloads no package', async () => {
    const r = await run((io) => prefetch(connected, { inputs: [list], dryRun: true, concurrency: 4 }, io));
    assert.equal(r.code, 0, r.err);
    assert.equal(upstream.nupkgFetches(), 0, 'a dry run downloaded packages');
    for (const name of ['xunit 2.9.3', 'NETStandard.Library 1.6.1', 'System.Memory 4.5.5', 'Microsoft.TestPlatform.TestHost 18.0.1', `${VULNERABLE.id} ${VULNERABLE.version}`]) {
      assert.ok(r.out.includes(`  ${name}\n`), `plan lacks ${name}:\n${r.out}`);
    }
    assert.match(r.out, new RegExp(`prefetch \\(dry run\\): ${closureSize} packages, ${closureSize} to download, 0 already cached, 0 failed`));
  });

  await t.test('prefetch downloads the closure once; a second run downloads nothing', async () => {
    const first = await run((io) => prefetch(connected, { inputs: [list], dryRun: false, concurrency: 8 }, io));
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, new RegExp(`prefetch: ${closureSize} packages, ${closureSize} new, 0 already cached, .* downloaded, 0 failed`));
    assert.equal(upstream.nupkgFetches(), closureSize);
    const second = await run((io) => prefetch(connected, { inputs: [list], dryRun: false, concurrency: 8 }, io));
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, new RegExp(`prefetch: ${closureSize} packages, 0 new, ${closureSize} already cached, 0 B downloaded, 0 failed`));
    assert.equal(upstream.nupkgFetches(), closureSize, 'the second prefetch downloaded packages again');
  });

  await t.test('a missing package fails the run by name and leaves the rest cached', async () => {
    const missing = join(root, 'missing.txt');
    await writeFile(missing, 'Contoso.DoesNotExist@1.0.0\nxunit.assert@2.9.3\nxunit@[9.9.9]\n');
    const r = await run((io) => prefetch(connected, { inputs: [missing], dryRun: false, concurrency: 2 }, io));
    assert.equal(r.code, 1);
    assert.match(r.err, /failed: Contoso\.DoesNotExist 1\.0\.0: no upstream has this package/);
    assert.match(r.err, /failed: xunit \[9\.9\.9\]: no version matches/);
    assert.match(r.out, /prefetch: \d+ packages, 0 new, .*, 2 failed/);
  });

  const bundle = join(root, 'full.tar.gz');
  await t.test('export writes a standard archive with a sha512 manifest', async () => {
    const r = await run((io) => exportBundle(connected, { out: bundle, selection: [], concurrency: 4 }, io));
    assert.equal(r.code, 0, r.err);
    const names: string[] = [];
    await tar.t({ file: bundle, onReadEntry: (e) => names.push(e.path) });
    assert.ok(names.includes('manifest.json'));
    assert.ok(names.includes('blobs/xunit/2.9.3/static/nupkg'), names.join('\n'));
    assert.match(r.out, new RegExp(`${closureSize} packages`));
  });

  const airgapped = configFor('airgapped');
  await t.test('import verifies and fills an empty cache; importing twice is harmless', async () => {
    const r = await run((io) => importBundle(airgapped, bundle, io));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`${closureSize * 2} package files new`));
    const before = await listing(join(root, 'airgapped', 'blobs'));
    const again = await run((io) => importBundle(airgapped, bundle, io));
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, new RegExp(`0 package files new \\(0 B\\), ${closureSize * 2} already held; 0 documents stored`));
    assert.deepEqual(await listing(join(root, 'airgapped', 'blobs')), before);
  });

  await t.test('a tampered bundle (one flipped byte) is refused and the cache is left as it was', async () => {
    const dir = join(root, 'tamper');
    await mkdir(dir);
    await tar.x({ file: bundle, cwd: dir });
    const victim = join(dir, 'blobs', 'newtonsoft.json', '13.0.3', 'static', 'nupkg');
    const bytes = await readFile(victim);
    const at = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
    await writeFile(victim, bytes);
    const tampered = join(root, 'tampered.tar');
    await tar.c({ file: tampered, cwd: dir }, ['manifest.json', 'blobs', 'docs']);
    for (const name of ['airgapped', 'fresh']) {
      const before = await listing(join(root, name));
      await assert.rejects(run((io) => importBundle(configFor(name), tampered, io)), /refused: blobs\/newtonsoft\.json\/13\.0\.3\/static\/nupkg does not match its SHA-512/);
      assert.deepEqual(await listing(join(root, name)), before, `the ${name} cache changed`);
    }
  });

  await t.test('export --since holds only what the old bundle lacks; a pattern selects by id', async () => {
    await upstream.publish('Contoso.Newer', '2.0.0');
    const more = join(root, 'more.txt');
    await writeFile(more, 'Contoso.Newer\n');
    assert.equal((await run((io) => prefetch(connected, { inputs: [more], dryRun: false, concurrency: 2 }, io))).code, 0);
    const weekly = join(root, 'weekly.tar');
    const r = await run((io) => exportBundle(connected, { out: weekly, since: bundle, selection: [], concurrency: 2 }, io));
    assert.equal(r.code, 0, r.err);
    const files = await manifestFiles(weekly, join(root, 'weekly'));
    // A held package serves its own nuspec: only the package file travels.
    assert.deepEqual(files, ['blobs/contoso.newer/2.0.0/static/nupkg']);
    const pattern = join(root, 'contoso.tar');
    assert.equal((await run((io) => exportBundle(connected, { out: pattern, selection: ['Contoso.*'], concurrency: 2 }, io))).code, 0);
    const ids = new Set((await manifestFiles(pattern, join(root, 'contoso'))).map((p) => p.split('/')[1]));
    assert.deepEqual([...ids].sort(), ['contoso.newer', 'contoso.vulnerable']);
  });

  await t.test('offline on the imported cache: versions, registration and vulnerability data, zero upstream requests', async () => {
    await upstream.close();
    const before = upstream.feed.requests.length;
    const nugate = await createApp({ config: { ...airgapped, offline: true }, log: createLogger('silent') });
    t.after(() => nugate.close());
    const get = async (path: string): Promise<{ status: number; json: unknown }> => {
      const res = await nugate.app.request(`http://nugate.test${path}`);
      return { status: res.status, json: res.status === 200 ? await res.json() : await res.text() };
    };
    assert.deepEqual((await get('/v3/flatcontainer/xunit/index.json')).json, { versions: ['2.9.3'] });
    const reg = await get(`/v3/registration/${VULNERABLE.id.toLowerCase()}/index.json`);
    assert.equal(reg.status, 200, JSON.stringify(reg.json));
    const index = await get('/v3/vulnerabilities/index.json');
    assert.equal(index.status, 200, JSON.stringify(index.json));
    const pageUrl = (index.json as Array<{ '@id': string }>)[0]?.['@id'];
    assert.ok(pageUrl !== undefined);
    const pageRes = await get(new URL(pageUrl).pathname);
    assert.equal(pageRes.status, 200, `vulnerability page through a re-signed link: ${JSON.stringify(pageRes.json)}`);
    assert.ok(VULNERABLE.id.toLowerCase() in (pageRes.json as Record<string, unknown>));
    assert.equal(upstream.feed.requests.length, before);
  });
});

async function manifestFiles(bundle: string, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await tar.x({ file: bundle, cwd: dir }, ['manifest.json']);
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { files: Array<{ path: string }> };
  return manifest.files.map((f) => f.path).sort();
}
