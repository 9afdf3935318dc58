import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { highestFloating, parseFloatRange } from '../../../src/nuget/version.ts';

describe('parseFloatRange', () => {
  const cases: Array<[string, { numbers: number[]; releasePrefix: string | undefined } | undefined]> = [
    ['*', { numbers: [], releasePrefix: undefined }],
    ['*-*', { numbers: [], releasePrefix: '' }],
    ['1.*', { numbers: [1], releasePrefix: undefined }],
    ['1.2.*', { numbers: [1, 2], releasePrefix: undefined }],
    ['1.2.3.*', { numbers: [1, 2, 3], releasePrefix: undefined }],
    ['1.*-*', { numbers: [1], releasePrefix: '' }],
    ['1.2.*-rc*', { numbers: [1, 2], releasePrefix: 'rc' }],
    ['1.0.0-beta*', { numbers: [1, 0, 0, 0], releasePrefix: 'beta' }],
    ['1.0.0', undefined],
    ['1.*.2', undefined],
    ['1.0.0-beta', undefined],
    ['1.0.0-be*ta*', undefined],
    ['a.*', undefined],
    ['1.2.3.4.*', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)}`, () => {
      const r = parseFloatRange(text);
      assert.deepEqual(r === undefined ? undefined : { numbers: [...r.numbers], releasePrefix: r.releasePrefix }, expected);
    });
  }
});

describe('highestFloating', () => {
  const versions = ['1.0.0', '1.2.0', '1.2.5', '1.3.0-beta.2', '1.3.0-rc.1', '2.0.0', '2.1.0-alpha', '1.0.0-beta.3'];
  const cases: Array<[string, string | undefined]> = [
    ['*', '2.0.0'],
    ['*-*', '2.1.0-alpha'],
    ['1.*', '1.2.5'],
    ['1.2.*', '1.2.5'],
    ['1.*-*', '1.3.0-rc.1'],
    ['1.3.*-beta*', '1.3.0-beta.2'],
    ['1.0.0-beta*', '1.0.0'],
    ['3.*', undefined],
    ['2.1.*', undefined],
    ['2.1.*-*', '2.1.0-alpha'],
  ];
  for (const [float, expected] of cases) {
    it(`${float} -> ${String(expected)}`, () => {
      const r = parseFloatRange(float);
      assert.ok(r, float);
      assert.equal(highestFloating(r, versions), expected);
    });
  }
});
