import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isValidId, MAX_ID_LENGTH, normalizeId } from '../../../src/nuget/id.ts';

describe('isValidId', () => {
  const valid = [
    'Newtonsoft.Json',
    'xunit.runner.visualstudio',
    'Microsoft.NET.Test.Sdk',
    'a_b',
    'a',
    '7zip',
    'Foo-Bar.Baz_2',
    'x'.repeat(MAX_ID_LENGTH),
  ];
  for (const id of valid) {
    it(`accepts ${id.length > 20 ? `${id.length} chars` : id}`, () => assert.equal(isValidId(id), true));
  }

  const invalid = [
    '',
    '.',
    '..',
    'a..b',
    '.a',
    'a.',
    '-a',
    'a-',
    'a.-b',
    'a/b',
    'a\\b',
    'a b',
    ' a',
    'a%2fb',
    'a:b',
    '../etc',
    'Ünïcödé',
    'a\u0000b',
    'x'.repeat(MAX_ID_LENGTH + 1),
  ];
  for (const id of invalid) {
    it(`rejects ${id.length > 20 ? `${id.length} chars` : JSON.stringify(id)}`, () => assert.equal(isValidId(id), false));
  }

  it('has the NuGet length limit of 100', () => assert.equal(MAX_ID_LENGTH, 100));
});

describe('normalizeId', () => {
  const cases: Array<[string, string]> = [
    ['Newtonsoft.Json', 'newtonsoft.json'],
    ['Microsoft.NET.Test.Sdk', 'microsoft.net.test.sdk'],
    ['xunit', 'xunit'],
  ];
  for (const [id, lower] of cases) {
    it(`${id} -> ${lower}`, () => assert.equal(normalizeId(id), lower));
  }
});
