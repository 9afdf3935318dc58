import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blobRelPath, escapeSegment, parseBlobRelPath, unescapeSegment } from '../../../src/cache/keys.ts';
import type { BlobKey } from '../../../src/cache/types.ts';

describe('blob keys', () => {
  it('keeps ordinary NuGet ids and versions readable', () => {
    assert.equal(blobRelPath({ upstream: 'nuget.org', id: 'newtonsoft.json', version: '13.0.3-beta.1', file: 'nupkg' }), 'newtonsoft.json/13.0.3-beta.1/nuget.org/nupkg');
  });

  it('escapes anything that could leave the folder or merge two keys', () => {
    for (const s of ['..', '.', '.hidden', 'a/b', 'a\\b', 'A', '', '%', 'é', '.inflight']) {
      const e = escapeSegment(s);
      assert.ok(!e.includes('/') && !e.includes('\\') && !e.startsWith('.') && e !== '', `${JSON.stringify(s)} → ${e}`);
      assert.equal(unescapeSegment(e), s);
    }
    const all = ['A', 'a', '%41', '', '%', '.a', '%2ea'].map(escapeSegment);
    assert.equal(new Set(all).size, all.length, 'injective');
  });

  it('parses back what it built', () => {
    const key: BlobKey = { upstream: 'My.Feed', id: '../x', version: '1.0.0', file: 'readme' };
    assert.deepEqual(parseBlobRelPath(blobRelPath(key)), key);
    assert.equal(parseBlobRelPath('a/b/c/notafile'), undefined);
    assert.equal(parseBlobRelPath('a/b/c'), undefined);
  });
});
