/**
 * `nugate import BUNDLE`: verifies every file of a bundle before anything enters the cache. The archive is extracted
 * into a staging folder under cache.dir/tmp (only plain files and folders, under manifest.json, blobs/ and docs/),
 * every file the manifest lists is checked against its size and SHA-512, and only then are package files inserted
 * through the blob cache (which verifies them again, zip and nuspec included) and documents stored. A bundle that
 * fails any check is refused whole, naming the file, and the cache is left as it was. Importing twice is harmless:
 * held package files are kept, and a document replaces only an older copy.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tar from 'tar';
import type { Config } from '../config/schema.ts';
import { formatBytes } from '../config/units.ts';
import { closeBlobBody, createCache } from '../cache/index.ts';
import { isStoredDoc } from '../cache/records.ts';
import type { StoredDoc } from '../cache/types.ts';
import { createLinkSigner, loadLinkKey } from '../sources/links.ts';
import { blobKeyOf, BundleError, hashFile, MANIFEST, parseManifest, type Manifest } from './bundle.ts';
import type { CommandIo } from './io.ts';
import { createProgress } from './progress.ts';
import { createRelinker } from './relink.ts';

const ALLOWED = /^(manifest\.json|blobs(\/.*)?|docs(\/.*)?)$/;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Extracts the bundle into `dir`; anything but plain files and folders in the expected places refuses it. */
async function extract(bundle: string, dir: string): Promise<void> {
  let refused: string | undefined;
  try {
    await tar.x({
      file: bundle,
      cwd: dir,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => {
        const type = 'type' in entry ? entry.type : 'File';
        const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
        if ((type !== 'File' && type !== 'Directory') || !ALLOWED.test(clean) || clean.split('/').includes('..')) {
          refused ??= `${path} (${type})`;
          return false;
        }
        return true;
      },
    });
  } catch (err) {
    throw new BundleError(`${bundle}: not a readable bundle (${err instanceof Error ? err.message : String(err)})`);
  }
  if (refused !== undefined) throw new BundleError(`${bundle}: refused: unexpected entry ${refused}; nothing was imported`);
}

/** Every listed file present with its size and hash, documents well-formed. Throws naming the first bad file. */
async function verify(bundle: string, dir: string, manifest: Manifest, tick: (line: string) => void): Promise<Map<string, StoredDoc>> {
  const refuse = (path: string, why: string): never => {
    throw new BundleError(`${bundle}: refused: ${path} ${why} (the bundle is damaged or was altered); nothing was imported`);
  };
  for (const entry of [...manifest.files, ...manifest.documents]) {
    const path = join(dir, entry.path);
    if (!(await exists(path))) refuse(entry.path, 'is listed in the manifest but missing');
    const got = await hashFile(path);
    if (got.size !== entry.size) refuse(entry.path, `has ${got.size} bytes, the manifest says ${entry.size}`);
    if (got.sha512 !== entry.sha512) refuse(entry.path, 'does not match its SHA-512 in the manifest');
    tick(entry.path);
  }
  const docs = new Map<string, StoredDoc>();
  for (const entry of manifest.documents) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(join(dir, entry.path), 'utf8'));
    } catch {
      doc = undefined;
    }
    if (!isStoredDoc(doc) || doc.upstream !== entry.upstream) refuse(entry.path, 'is not a stored document');
    docs.set(entry.path, doc as StoredDoc);
  }
  return docs;
}

export async function importBundle(config: Config, bundlePath: string, io: CommandIo): Promise<number> {
  const bundle = resolve(bundlePath);
  if (!(await exists(bundle))) throw new BundleError(`${bundle}: no such file`);
  // Whatever this creates to stage the bundle is removed again if the bundle is refused.
  const created = { cacheDir: !(await exists(config.cache.dir)), tmp: !(await exists(join(config.cache.dir, 'tmp'))) };
  const staging = join(config.cache.dir, 'tmp', `import-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { recursive: true });
  let manifest: Manifest;
  let docs: Map<string, StoredDoc>;
  try {
    await extract(bundle, staging);
    if (!(await exists(join(staging, MANIFEST)))) throw new BundleError(`${bundle}: refused: no manifest.json; nothing was imported`);
    manifest = parseManifest(await readFile(join(staging, MANIFEST), 'utf8'), bundle);
    const progress = createProgress('import: verifying', { stream: io.err, total: manifest.files.length + manifest.documents.length });
    try {
      docs = await verify(bundle, staging, manifest, (line) => progress.tick(line));
    } finally {
      progress.stop();
    }
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (created.tmp) await rmdir(join(config.cache.dir, 'tmp')).catch(() => undefined);
    if (created.cacheDir) await rmdir(config.cache.dir).catch(() => undefined);
    throw err;
  }

  const configured = new Set(config.upstreams.map((u) => u.name));
  const named = new Set([...manifest.files.map((f) => f.upstream), ...manifest.documents.map((d) => d.upstream)]);
  for (const name of named) if (!configured.has(name)) io.err.write(`warning: the bundle holds data of upstream "${name}", which this config does not name; it is imported but served only once an upstream of that name is configured\n`);

  // Package files enter through the blob cache's own download path (verified and indexed as any download), which an
  // offline cache would refuse to take.
  const cache = await createCache({ config: { ...config, offline: false }, log: io.log });
  const relink = createRelinker(createLinkSigner(await loadLinkKey(join(config.cache.dir, 'link.key'))));
  const progress = createProgress('import', { stream: io.err, total: manifest.files.length + manifest.documents.length });
  const counts = { newFiles: 0, heldFiles: 0, bytes: 0, newDocs: 0, heldDocs: 0 };
  try {
    for (const f of manifest.files) {
      const path = join(staging, f.path);
      const got = await cache.blobs.get(blobKeyOf(f), async () => ({ stream: createReadStream(path), length: f.size, sha512: f.sha512 }));
      if (got === undefined) throw new BundleError(`${bundle}: ${f.path} could not be stored`);
      // A MISS streams the stored file to us; it must be read for the insert to finish.
      if (got.body.kind === 'stream') for await (const chunk of got.body.stream) void chunk;
      else await closeBlobBody(got.body);
      if (got.state === 'HIT') counts.heldFiles++;
      else {
        counts.newFiles++;
        counts.bytes += f.size;
      }
      progress.tick(`${f.id} ${f.version} ${f.file}${got.state === 'HIT' ? ' (held)' : ''}`);
    }
    for (const d of manifest.documents) {
      const doc = docs.get(d.path) as StoredDoc;
      const stored = await cache.docs.put(relink.key(d.key), d.kind, { ...doc, body: relink.body(doc.upstream, doc.body) });
      if (stored) counts.newDocs++;
      else counts.heldDocs++;
      progress.tick(d.key);
    }
    await cache.settle();
  } finally {
    progress.stop();
    await cache.close();
    await rm(staging, { recursive: true, force: true });
  }
  io.out.write(
    `import: ${bundle}: ${counts.newFiles} package files new (${formatBytes(counts.bytes)}), ${counts.heldFiles} already held; ${counts.newDocs} documents stored, ${counts.heldDocs} already current\n`,
  );
  return 0;
}
