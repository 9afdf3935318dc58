/**
 * `nugate export --out BUNDLE [--since OLD_BUNDLE] [SELECTION...]`: writes held package files and the metadata a
 * client needs for them (service indexes, version lists, registrations, vulnerability data) into one bundle
 * (bundle.ts). The archive is built in a staging folder under cache.dir/tmp (package files hard-linked, so no copy
 * on the same disk), every file is hashed as it goes in, and the bundle appears under its name only when complete.
 */
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import * as tar from 'tar';
import type { Config } from '../config/schema.ts';
import { formatBytes } from '../config/units.ts';
import { createCache } from '../cache/index.ts';
import type { DocKind, StoredDoc } from '../cache/types.ts';
import { parseDocKey, type DocKey } from '../sources/keys.ts';
import { blobPath, FORMAT, FORMAT_VERSION, hashFile, hashText, isGzipName, MANIFEST, readBundleManifest, type DocEntry, type FileEntry, type Manifest } from './bundle.ts';
import type { CommandIo } from './io.ts';
import { createProgress } from './progress.ts';
import { resolveSelection } from './select.ts';

export interface ExportOptions {
  out: string;
  since?: string;
  selection: readonly string[];
  concurrency: number;
}

/** The freshness kind each document type is stored under (as HttpSource stores them). */
const KIND_OF: Record<DocKey['type'], DocKind> = {
  serviceIndex: 'serviceIndex',
  versions: 'metadata',
  registration: 'metadata',
  vulnerabilityIndex: 'metadata',
  link: 'metadata',
  search: 'search',
  autocomplete: 'search',
};

/** Hard link when the staging folder is on the same file system, a copy otherwise. */
async function place(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

const contentOf = (doc: StoredDoc): string => hashText(`${doc.status}\n${doc.body}`);

export async function exportBundle(config: Config, opts: ExportOptions, io: CommandIo): Promise<number> {
  const out = resolve(opts.out);
  const tmpRoot = join(config.cache.dir, 'tmp');
  await mkdir(tmpRoot, { recursive: true });
  const old: Manifest | undefined = opts.since === undefined ? undefined : await readBundleManifest(resolve(opts.since), tmpRoot);
  const oldFiles = new Set((old?.files ?? []).map((f) => `${f.path}\u0000${f.sha512}`));
  const oldDocs = new Set((old?.documents ?? []).map((d) => `${d.key}\u0000${d.content}`));
  const selection = await resolveSelection(config, opts.selection, io, opts.concurrency);
  for (const m of selection.missing) io.err.write(`warning: ${m.what}: ${m.reason}\n`);

  const staging = join(tmpRoot, `export-${randomBytes(6).toString('hex')}`);
  const cache = await createCache({ config: { ...config, offline: true }, log: io.log });
  const progress = createProgress('export', { stream: io.err });
  const manifest: Manifest = { format: FORMAT, version: FORMAT_VERSION, created: new Date().toISOString(), files: [], documents: [] };
  let skipped = 0;
  try {
    await mkdir(join(staging, 'blobs'), { recursive: true });
    await mkdir(join(staging, 'docs'), { recursive: true });
    const blobs = [];
    for await (const b of cache.blobs.entries()) if (selection.pkg(b.key.id, b.key.version)) blobs.push(b);
    progress.grow(blobs.length);
    for (const b of blobs) {
      const path = blobPath(b.key);
      if (oldFiles.has(`${path}\u0000${b.sha512}`)) {
        skipped++;
        progress.tick(`${b.key.id} ${b.key.version} ${b.key.file} (in the old bundle)`);
        continue;
      }
      const target = join(staging, path);
      try {
        await place(b.path, target);
      } catch {
        progress.tick(`${b.key.id} ${b.key.version} ${b.key.file} (gone)`);
        continue; // evicted since the walk
      }
      const got = await hashFile(target);
      if (got.sha512 !== b.sha512 || got.size !== b.size) {
        // A damaged cache file must not travel: the other side would refuse the whole bundle.
        io.err.write(`warning: ${path}: the cached file does not match its recorded hash; left out\n`);
        await rm(target, { force: true });
        continue;
      }
      const entry: FileEntry = { path, id: b.key.id, version: b.key.version, upstream: b.key.upstream, file: b.key.file, size: b.size, sha512: b.sha512 };
      manifest.files.push(entry);
      progress.tick(`${b.key.id} ${b.key.version} ${b.key.file}`);
    }

    let n = 0;
    for await (const [key, doc] of cache.docs.entries('')) {
      const parsed = parseDocKey(key);
      // Search answers are not persisted; 404s are not worth carrying; version lists and registrations follow the selection.
      if (parsed === undefined || doc.status !== 200 || KIND_OF[parsed.type] === 'search') continue;
      if ((parsed.type === 'versions' || parsed.type === 'registration') && !selection.id(parsed.rest)) continue;
      const content = contentOf(doc);
      if (oldDocs.has(`${key}\u0000${content}`)) {
        skipped++;
        continue;
      }
      const path = `docs/${++n}.json`;
      const text = JSON.stringify(doc);
      await writeFile(join(staging, path), text);
      const entry: DocEntry = { path, key, kind: KIND_OF[parsed.type], upstream: doc.upstream, size: Buffer.byteLength(text), sha512: hashText(text), content };
      manifest.documents.push(entry);
    }
    await writeFile(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    const partial = `${out}.${randomBytes(4).toString('hex')}.partial`;
    try {
      await tar.c({ file: partial, cwd: staging, gzip: isGzipName(out), portable: true }, [MANIFEST, 'blobs', 'docs']);
      await rename(partial, out);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  } finally {
    progress.stop();
    await cache.close();
    await rm(staging, { recursive: true, force: true });
  }
  const bytes = manifest.files.reduce((s, f) => s + f.size, 0);
  const packages = manifest.files.filter((f) => f.file === 'nupkg').length;
  io.out.write(`export: ${out}: ${packages} packages, ${manifest.files.length} package files (${formatBytes(bytes)}), ${manifest.documents.length} documents${old ? `, ${skipped} already in ${opts.since}` : ''}\n`);
  return selection.missing.length > 0 ? 1 : 0;
}
