/**
 * One contract for every BlobStore (style.md rule 7): atomic commit, nothing visible before it, no trace
 * after an abort, crash leftovers removed by init() alone, listing by id, and keys that cannot escape.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlobStore } from '../../src/cache/blob-fs.ts';
import type { BlobKey } from '../../src/cache/types.ts';

export interface BlobStoreSubject {
  /** A store on fresh storage; calling `reopen` gives a new instance on the same storage (a restart). */
  store: BlobStore;
  reopen(): BlobStore;
  /** Every file on the storage, relative names (to prove nothing is left behind). */
  files(): Promise<string[]>;
  /** Simulates a process that died mid-download: starts a write and never finishes it. */
  crashMidWrite(key: BlobKey, bytes: Buffer): Promise<void>;
  teardown(): Promise<void>;
}

/** Size of a complete blob through open(), or undefined (the handle is closed again). */
async function sizeOf(store: BlobStore, k: BlobKey): Promise<number | undefined> {
  const opened = await store.open(k);
  await opened?.handle.close();
  return opened?.size;
}

async function readAll(store: BlobStore, k: BlobKey): Promise<Buffer> {
  const opened = await store.open(k);
  if (opened === undefined) throw new Error(`no blob ${JSON.stringify(k)}`);
  try {
    return await opened.handle.readFile();
  } finally {
    await opened.handle.close();
  }
}

const key = (id: string, version = '1.0.0', file: BlobKey['file'] = 'nupkg', upstream = 'nuget.org'): BlobKey => ({ upstream, id, version, file });

export function blobStoreContract(name: string, makeSubject: () => Promise<BlobStoreSubject>): void {
  describe(`blob store contract: ${name}`, () => {
    const withSubject = (fn: (s: BlobStoreSubject) => Promise<void>) => async () => {
      const s = await makeSubject();
      try {
        await s.store.init();
        await fn(s);
      } finally {
        await s.teardown();
      }
    };

    it('makes a blob visible only after commit', withSubject(async ({ store }) => {
      const k = key('a');
      const temp = await store.begin(k);
      await temp.write(Buffer.from('hello '), 0);
      await temp.write(Buffer.from('world'), 6);
      assert.equal(await sizeOf(store, k), undefined, 'not visible while writing');
      const buf = Buffer.alloc(11);
      assert.equal(await temp.read(buf, 0), 11);
      assert.equal(buf.toString(), 'hello world', 'the temp file is readable while written');
      await temp.commit();
      assert.equal(await sizeOf(store, k), 11);
      assert.equal((await readAll(store, k)).toString(), 'hello world');
      const after = Buffer.alloc(5);
      await temp.read(after, 6);
      assert.equal(after.toString(), 'world', 'the handle stays readable after commit');
      await temp.close();
    }));

    it('leaves no trace after abort', withSubject(async (s) => {
      const before = await s.files();
      const temp = await s.store.begin(key('b'));
      await temp.write(Buffer.from('partial'), 0);
      await temp.abort();
      await temp.close();
      assert.equal(await sizeOf(s.store, key('b')), undefined);
      assert.deepEqual(await s.files(), before);
    }));

    it('replaces a blob atomically and keeps concurrent writers apart', withSubject(async ({ store }) => {
      const k = key('c');
      const a = await store.begin(k);
      const b = await store.begin(k);
      await a.write(Buffer.from('AAAA'), 0);
      await b.write(Buffer.from('BBBBBB'), 0);
      await a.commit();
      assert.equal((await readAll(store, k)).toString(), 'AAAA');
      await b.commit();
      assert.equal((await readAll(store, k)).toString(), 'BBBBBB');
      await Promise.all([a.close(), b.close()]);
    }));

    it('removes crash leftovers at init, and they were never visible', withSubject(async (s) => {
      await s.crashMidWrite(key('crashed'), Buffer.alloc(1000, 7));
      assert.equal(await sizeOf(s.store, key('crashed')), undefined);
      const done = await s.store.begin(key('kept'));
      await done.write(Buffer.from('ok'), 0);
      await done.commit();
      await done.close();
      const fresh = s.reopen();
      assert.ok((await fresh.init()) >= 1, 'init reports what it removed');
      assert.equal(await sizeOf(fresh, key('crashed')), undefined);
      assert.equal((await readAll(fresh, key('kept'))).toString(), 'ok');
      assert.equal((await s.files()).filter((f) => f.includes('crashed')).length, 0, 'no file of the crashed download remains');
    }));

    it('lists and removes the blobs of one id', withSubject(async ({ store }) => {
      const keys = [key('lib', '1.0.0'), key('lib', '2.0.0-beta'), key('lib', '1.0.0', 'nuspec'), key('lib', '1.0.0', 'nupkg', 'internal'), key('lib.other')];
      for (const k of keys) {
        const t = await store.begin(k);
        await t.write(Buffer.from(JSON.stringify(k)), 0);
        await t.commit();
        await t.close();
      }
      const listed = await store.listId('lib');
      const sortKey = (k: BlobKey): string => JSON.stringify([k.id, k.version, k.upstream, k.file]);
      assert.deepEqual(listed.map(sortKey).sort(), keys.slice(0, 4).map(sortKey).sort());
      assert.equal(await store.remove(keys[0] ?? key('x')), true);
      assert.equal(await store.remove(keys[0] ?? key('x')), false);
      assert.equal((await store.listId('lib')).length, 3);
      assert.deepEqual(await store.listId('nothing.here'), []);
    }));

    it('keeps an opened blob readable after it is removed (a send in progress survives eviction)', withSubject(async ({ store }) => {
      const k = key('opened');
      const bytes = Buffer.alloc(300_000, 9);
      const t = await store.begin(k);
      await t.write(bytes, 0);
      await t.commit();
      await t.close();
      const opened = await store.open(k);
      assert.ok(opened !== undefined);
      assert.equal(opened.size, bytes.length);
      assert.equal(await store.remove(k), true);
      assert.equal(await store.open(k), undefined, 'gone for new readers');
      try {
        assert.ok((await opened.handle.readFile()).equals(bytes), 'the open handle still reads every byte');
      } finally {
        await opened.handle.close();
      }
    }));

    it('keeps hostile key parts inside the store and apart from each other', withSubject(async ({ store }) => {
      const hostile = [key('..', '..'), key('a/b'), key('a', 'b/c'), key('.inflight'), key('A'), key('a'), key('%2e'), key('')];
      for (const [i, k] of hostile.entries()) {
        const t = await store.begin(k);
        await t.write(Buffer.from(String(i)), 0);
        await t.commit();
        await t.close();
      }
      for (const [i, k] of hostile.entries()) {
        assert.equal((await readAll(store, k)).toString(), String(i), JSON.stringify(k));
      }
    }));
  });
}
