import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createKeyCheck, keyAllowsId, matchesPattern } from '../../../src/publish/keys.ts';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('matchesPattern (NuGet package pattern rules)', () => {
  it('matches exact ids case-insensitively', () => {
    assert.equal(matchesPattern('Contoso.Widgets', 'contoso.widgets'), true);
    assert.equal(matchesPattern('Contoso.Widgets', 'Contoso.Widgets.Extra'), false);
  });
  it('matches prefixes ending in * and a lone *', () => {
    assert.equal(matchesPattern('Contoso.*', 'CONTOSO.Widgets'), true);
    assert.equal(matchesPattern('Contoso.*', 'Contoso'), false);
    assert.equal(matchesPattern('Contoso*', 'ContosoWidgets'), true);
    assert.equal(matchesPattern('*', 'Newtonsoft.Json'), true);
    assert.equal(matchesPattern('Contoso.*', 'Newtonsoft.Json'), false);
  });
});

describe('createKeyCheck', () => {
  const check = createKeyCheck([
    { name: 'ci', sha256: sha('ci-key') },
    { name: 'contoso', sha256: sha('contoso-key').toUpperCase(), patterns: ['Contoso.*'] },
  ]);
  it('finds a key by its SHA-256 (hex in either case)', () => {
    assert.deepEqual(check('ci-key'), { name: 'ci' });
    assert.deepEqual(check('contoso-key'), { name: 'contoso', patterns: ['Contoso.*'] });
  });
  it('refuses missing, empty and unknown keys', () => {
    assert.equal(check(undefined), undefined);
    assert.equal(check(''), undefined);
    assert.equal(check('CI-KEY'), undefined);
  });
  it('scopes a key to its patterns', () => {
    const contoso = check('contoso-key');
    assert.ok(contoso);
    assert.equal(keyAllowsId(contoso, 'Contoso.Widgets'), true);
    assert.equal(keyAllowsId(contoso, 'Newtonsoft.Json'), false);
    assert.equal(keyAllowsId({ name: 'ci' }, 'Newtonsoft.Json'), true);
  });
});
