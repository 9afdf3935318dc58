import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/cache/blob-fs.ts';
import { blobStoreContract } from './blob-store.contract.ts';

blobStoreContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-blobs-'));
  const root = join(dir, 'blobs');
  return {
    store: new FsBlobStore(root),
    reopen: () => new FsBlobStore(root),
    async files() {
      const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1)).sort();
    },
    async crashMidWrite(key, bytes) {
      // What a killed process leaves: journal entry + temp file, never closed, committed or aborted.
      // (The real kill -9 case runs in test/unit/cache/crash.test.ts.)
      const temp = await new FsBlobStore(root).begin(key);
      await temp.write(bytes, 0);
      await temp.close();
    },
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
});
