import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeVersionLists } from '../../../src/merge/versions.ts';

describe('mergeVersionLists', () => {
  it('unites lists; a duplicate version is served by the higher-priority upstream', () => {
    const merged = mergeVersionLists([
      { upstream: 'internal', versions: ['1.0.0', '2.0.0'] },
      { upstream: 'nuget.org', versions: ['0.9.0', '1.0.0', '3.0.0'] },
    ]);
    assert.deepEqual(merged.versions, ['0.9.0', '1.0.0', '2.0.0', '3.0.0']);
    assert.deepEqual(merged.provenance, { '0.9.0': 'nuget.org', '1.0.0': 'internal', '2.0.0': 'internal', '3.0.0': 'nuget.org' });
  });

  it('lowercases, normalizes, strips metadata and dedupes across spellings', () => {
    const merged = mergeVersionLists([
      { upstream: 'a', versions: ['4.5.3-UwpPreview2', '1.0.0.0', '01.2.3+sha.abc'] },
      { upstream: 'b', versions: ['4.5.3-uwppreview2', '1.0', '1.2.3'] },
    ]);
    assert.deepEqual(merged.versions, ['1.0.0', '1.2.3', '4.5.3-uwppreview2']);
    assert.equal(merged.provenance['4.5.3-uwppreview2'], 'a');
    assert.equal(merged.provenance['1.0.0'], 'a');
    for (const v of merged.versions) assert.ok(!v.includes('+') && v === v.toLowerCase());
  });

  it('sorts by NuGet version order, not by string order', () => {
    const merged = mergeVersionLists([
      { upstream: 'a', versions: ['10.0.0', '2.0.0', '1.0.0-beta.10', '1.0.0-beta.2', '1.0.0', '1.0.0-alpha', '1.0.0.1'] },
    ]);
    assert.deepEqual(merged.versions, ['1.0.0-alpha', '1.0.0-beta.2', '1.0.0-beta.10', '1.0.0', '1.0.0.1', '2.0.0', '10.0.0']);
  });

  it('drops unparsable versions', () => {
    const merged = mergeVersionLists([{ upstream: 'a', versions: ['latest', '', '1.0.0', '1..0', '../x'] }]);
    assert.deepEqual(merged.versions, ['1.0.0']);
    assert.deepEqual(Object.keys(merged.provenance), ['1.0.0']);
  });

  it('handles no sources and empty sources', () => {
    assert.deepEqual(mergeVersionLists([]), { versions: [], provenance: {} });
    assert.deepEqual(mergeVersionLists([{ upstream: 'a', versions: [] }]), { versions: [], provenance: {} });
  });
});
