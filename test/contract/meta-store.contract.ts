/**
 * One contract for every metadata store behind MetaStore (style.md rule 7): the file store, the in-memory Map
 * and Redis must behave the same for everything the cache relies on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MetaStores } from '../../src/cache/meta.ts';

export interface MetaStoreSubject {
  /** Opens the stores; a persistent subject opened again sees the same data. */
  open(): Promise<MetaStores>;
  persistent: boolean;
  teardown(): Promise<void>;
}

interface Sample {
  n: number;
  s: string;
  nested?: { list: string[] };
}

function isSample(v: unknown): v is Sample {
  return typeof v === 'object' && v !== null && 'n' in v && typeof v.n === 'number' && 's' in v && typeof v.s === 'string';
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

async function collect<V>(it: AsyncIterable<[string, V]>): Promise<Map<string, V>> {
  const out = new Map<string, V>();
  for await (const [k, v] of it) out.set(k, v);
  return out;
}

export function metaStoreContract(name: string, makeSubject: () => Promise<MetaStoreSubject>): void {
  describe(`meta store contract: ${name}`, () => {
    let subject: MetaStoreSubject;
    let stores: MetaStores;

    before(async () => {
      subject = await makeSubject();
      stores = await subject.open();
    });
    after(async () => {
      await stores.close();
      await subject.teardown();
    });

    it('reads a missing key as undefined', async () => {
      const docs = stores.open('docs', isSample);
      assert.equal(await docs.get('missing'), undefined);
    });

    it('round-trips values, including unicode and large strings', async () => {
      const docs = stores.open('docs', isSample);
      const big = 'x'.repeat(2 * 1024 * 1024) + 'é✓\n"quoted"';
      const value: Sample = { n: 42.5, s: big, nested: { list: ['a', 'ü', ''] } };
      await docs.set('round-trip', value);
      assert.deepEqual(await docs.get('round-trip'), value);
    });

    it('overwrites a key', async () => {
      const docs = stores.open('docs', isSample);
      await docs.set('over', { n: 1, s: 'one' });
      await docs.set('over', { n: 2, s: 'two' });
      assert.deepEqual(await docs.get('over'), { n: 2, s: 'two' });
    });

    it('deletes a key and reports whether it existed', async () => {
      const docs = stores.open('docs', isSample);
      await docs.set('del', { n: 1, s: 'x' });
      assert.equal(await docs.delete('del'), true);
      assert.equal(await docs.get('del'), undefined);
      assert.equal(await docs.delete('del'), false);
    });

    it('keeps keys with awkward characters apart', async () => {
      const docs = stores.open('docs', isString);
      const keys = ['a/b', 'a\\b', '../../etc/passwd', 'ns::x', 'line\nbreak', 'ünïcødé', 'k'.repeat(2000), 'A', 'a', ' '];
      await Promise.all(keys.map((k) => docs.set(k, `v:${k}`)));
      for (const k of keys) assert.equal(await docs.get(k), `v:${k}`, JSON.stringify(k.slice(0, 40)));
    });

    it('isolates namespaces', async () => {
      const docs = stores.open('docs', isString);
      const blobs = stores.open('blobs', isString);
      await docs.set('same-key', 'doc');
      await blobs.set('same-key', 'blob');
      assert.equal(await docs.get('same-key'), 'doc');
      assert.equal(await blobs.get('same-key'), 'blob');
      await blobs.delete('same-key');
      assert.equal(await docs.get('same-key'), 'doc');
    });

    it('shows one namespace the same through every handle', async () => {
      const a = stores.open('docs', isString);
      const b = stores.open('docs', isString);
      await a.set('shared-handle', 'from a');
      assert.equal(await b.get('shared-handle'), 'from a');
      assert.equal(await b.delete('shared-handle'), true);
      assert.equal(await a.get('shared-handle'), undefined);
    });

    it('reads a value of the wrong shape as a miss', async () => {
      const asString = stores.open('state', isString);
      const asSample = stores.open('state', isSample);
      await asString.set('shape', 'just a string');
      assert.equal(await asSample.get('shape'), undefined);
      assert.equal(await asString.get('shape'), 'just a string');
    });

    it('lists exactly the entries of one namespace', async () => {
      const blobs = stores.open('blobs', isSample);
      await blobs.clear();
      const want = new Map<string, Sample>();
      for (let i = 0; i < 25; i++) want.set(`entry/${i}`, { n: i, s: `s${i}` });
      await Promise.all([...want].map(([k, v]) => blobs.set(k, v)));
      await stores.open('docs', isSample).set('entry/doc-only', { n: -1, s: 'doc' });
      assert.deepEqual(await collect(blobs.entries()), want);
      const keys: string[] = [];
      for await (const k of blobs.keys()) keys.push(k);
      assert.deepEqual(keys.sort(), [...want.keys()].sort());
    });

    it('lists keys longer than a file head', async () => {
      const state = stores.open('state', isString);
      await state.clear();
      const long = `long/${'x'.repeat(10_000)}`;
      await state.set(long, 'v');
      const keys: string[] = [];
      for await (const k of state.keys()) keys.push(k);
      assert.deepEqual(keys, [long]);
    });

    it('clears one namespace only', async () => {
      const docs = stores.open('docs', isString);
      const state = stores.open('state', isString);
      await docs.set('keep', 'doc');
      await state.set('gone', 'state');
      await state.clear();
      assert.equal(await state.get('gone'), undefined);
      assert.equal((await collect(state.entries())).size, 0);
      assert.equal(await docs.get('keep'), 'doc');
      await state.set('after-clear', 'works');
      assert.equal(await state.get('after-clear'), 'works');
    });

    it('survives concurrent writers to one key with one whole value', async () => {
      const docs = stores.open('docs', isSample);
      const values = Array.from({ length: 20 }, (_, i) => ({ n: i, s: String(i).repeat(5000) }));
      await Promise.all(values.map((v) => docs.set('contended', v)));
      const got = await docs.get('contended');
      assert.ok(got !== undefined && values.some((v) => v.n === got.n && v.s === got.s), 'one complete value wins');
    });

    it('keeps data across a reopen when persistent', async () => {
      const docs = stores.open('docs', isSample);
      await docs.set('persist', { n: 7, s: 'seven' });
      await stores.close();
      stores = await subject.open();
      const again = stores.open('docs', isSample);
      assert.deepEqual(await again.get('persist'), subject.persistent ? { n: 7, s: 'seven' } : undefined);
    });
  });
}
