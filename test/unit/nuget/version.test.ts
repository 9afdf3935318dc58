import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareVersions,
  compareVersionStrings,
  isPrerelease,
  isSemVer2,
  lowerNormalized,
  lowestApplicable,
  normalize,
  normalizeVersionString,
  parseRange,
  parseVersion,
  rangeIsSemVer2,
  satisfies,
  toFullString,
} from '../../../src/nuget/version.ts';
import type { NuGetVersion } from '../../../src/nuget/version.ts';

function v(text: string): NuGetVersion {
  const parsed = parseVersion(text);
  assert.ok(parsed, `expected ${JSON.stringify(text)} to parse`);
  return parsed;
}

describe('parseVersion + normalize', () => {
  const cases: Array<[input: string, normalized: string]> = [
    ['1', '1.0.0'],
    ['1.2', '1.2.0'],
    ['1.2.3', '1.2.3'],
    ['1.0.0.0', '1.0.0'],
    ['1.0.0.1', '1.0.0.1'],
    ['1.2.3.4', '1.2.3.4'],
    ['01.002.0003', '1.2.3'],
    ['1.00.0.0000', '1.0.0'],
    ['1.0.0+build.5', '1.0.0'],
    ['1.0.0-beta+sha.abc', '1.0.0-beta'],
    ['1.0.0.0-RC.1+meta', '1.0.0-RC.1'],
    ['4.5.3-UwpPreview2', '4.5.3-UwpPreview2'],
    ['1.0.0-alpha-1', '1.0.0-alpha-1'],
    ['1.0.0-0a', '1.0.0-0a'],
    ['1.0.0-0', '1.0.0-0'],
    ['1.0-beta', '1.0.0-beta'],
    ['2147483647.0.0', '2147483647.0.0'],
    ['1.0.0+0001', '1.0.0'],
  ];
  for (const [input, normalized] of cases) {
    it(`normalizes ${input} to ${normalized}`, () => {
      assert.equal(normalize(v(input)), normalized);
      assert.equal(normalizeVersionString(input), normalized);
    });
  }

  it('keeps the parts and the original text', () => {
    assert.deepEqual(v('01.2.3.4-Beta.1+Sha.9'), {
      major: 1,
      minor: 2,
      patch: 3,
      revision: 4,
      release: ['Beta', '1'],
      metadata: 'Sha.9',
      original: '01.2.3.4-Beta.1+Sha.9',
    });
  });

  const invalid = [
    '',
    ' ',
    ' 1.0.0',
    '1.0.0 ',
    '1. 0',
    '1.',
    '.1',
    '1..2',
    '1.2.3.4.5',
    'a',
    '1.a',
    'v1.0.0',
    '+1.0',
    '-1.0',
    '2147483648',
    '1.2147483648.0',
    '1.0.0-',
    '1.0.0+',
    '1.0.0-+meta',
    '1.0.0-beta..1',
    '1.0.0-beta.',
    '1.0.0-.beta',
    '1.0.0-beta_1',
    '1.0.0-béta',
    '1.0.0-01',
    '1.0.0-alpha.007',
    '1.0.0+meta..data',
    '1.0.0+a+b',
    '1.0.0+meta_data',
    '1.0.0.0.0-beta',
    '1,0',
  ];
  for (const input of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(parseVersion(input), undefined);
      assert.equal(normalizeVersionString(input), undefined);
      assert.equal(lowerNormalized(input), undefined);
    });
  }
});

describe('toFullString', () => {
  const cases: Array<[string, string]> = [
    ['1.0.0', '1.0.0'],
    ['1.0.0.0+Meta', '1.0.0+Meta'],
    ['01.0.0-Beta.2+sha.1', '1.0.0-Beta.2+sha.1'],
  ];
  for (const [input, full] of cases) {
    it(`${input} -> ${full}`, () => assert.equal(toFullString(v(input)), full));
  }
});

describe('lowerNormalized', () => {
  const cases: Array<[string, string]> = [
    ['4.5.3-UwpPreview2', '4.5.3-uwppreview2'],
    ['13.0.3', '13.0.3'],
    ['1.0.0.0-RC+Build', '1.0.0-rc'],
    ['01.2.3.4-Beta', '1.2.3.4-beta'],
  ];
  for (const [input, lower] of cases) {
    it(`${input} -> ${lower}`, () => assert.equal(lowerNormalized(input), lower));
  }
});

describe('compareVersions', () => {
  // [a, b, sign of compare(a, b)]
  const cases: Array<[string, string, -1 | 0 | 1]> = [
    ['1.0.0', '2.0.0', -1],
    ['1.10.0', '1.9.0', 1],
    ['1.0.0', '1.0.0.0', 0],
    ['1.0.0', '1.0.0.1', -1],
    ['1.0.0.2', '1.0.0.10', -1],
    ['01.002.0003', '1.2.3', 0],
    ['1.0.0+a', '1.0.0+b', 0],
    ['1.0.0-beta+a', '1.0.0-beta', 0],
    ['1.0.0-alpha.2', '1.0.0-alpha.10', -1],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.1', '1.0.0-beta', -1],
    ['1.0.0-beta', '1.0.0', -1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0-1', '1.0.0-alpha', -1],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta', -1],
    ['1.0.0-BETA', '1.0.0-beta', 0],
    ['1.0.0-Beta.X', '1.0.0-beta.x', 0],
    ['1.0.0-beta.2', '1.0.0-Beta.11', -1],
    ['1.0.0-alpha', '1.0.0-Alpha-1', -1],
    ['1.0.0-a-b', '1.0.0-a', 1],
    // Out of Int32 range, so not numeric for NuGet: compared as text, after every real number.
    ['1.0.0-2147483647', '1.0.0-2147483648', -1],
    ['0.9.9', '1.0.0-alpha', -1],
    ['1.0.0-beta', '1.0.0.1-alpha', -1],
  ];
  for (const [a, b, sign] of cases) {
    it(`${a} ${sign < 0 ? '<' : sign > 0 ? '>' : '=='} ${b}`, () => {
      assert.equal(Math.sign(compareVersions(v(a), v(b))), sign);
      // The comparison is antisymmetric (0 - sign avoids -0 for the equal cases).
      assert.equal(Math.sign(compareVersions(v(b), v(a))), 0 - sign);
    });
  }

  it('sorts the SemVer 2.0.0 precedence example in order', () => {
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.0.1',
      '1.0.1',
    ];
    const shuffled = [...ordered].reverse();
    shuffled.push(shuffled.shift() ?? '');
    assert.deepEqual(shuffled.sort(compareVersionStrings), ordered);
  });
});

describe('compareVersionStrings', () => {
  it('sorts unparsable strings first, by ordinal', () => {
    const sorted = ['2.0.0', 'zzz', '1.0.0', 'abc', '1.0.0-beta'].sort(compareVersionStrings);
    assert.deepEqual(sorted, ['abc', 'zzz', '1.0.0-beta', '1.0.0', '2.0.0']);
  });

  it('treats equal versions written differently as equal', () => {
    assert.equal(compareVersionStrings('1.0', '1.0.0.0+x'), 0);
  });
});

describe('isPrerelease / isSemVer2', () => {
  const cases: Array<[string, boolean, boolean]> = [
    ['1.0.0', false, false],
    ['1.0.0.1', false, false],
    ['1.0.0-beta', true, false],
    ['1.0.0-beta-2', true, false],
    ['1.0.0-beta.1', true, true],
    ['1.0.0+sha', false, true],
    ['1.0.0-beta+sha', true, true],
  ];
  for (const [input, pre, semver2] of cases) {
    it(`${input}: prerelease=${pre} semver2=${semver2}`, () => {
      assert.equal(isPrerelease(v(input)), pre);
      assert.equal(isSemVer2(v(input)), semver2);
    });
  }
});

describe('parseRange', () => {
  type Expected = { min?: string; minInclusive: boolean; max?: string; maxInclusive: boolean };
  const cases: Array<[string, Expected]> = [
    ['1.0', { min: '1.0.0', minInclusive: true, maxInclusive: false }],
    ['  1.0  ', { min: '1.0.0', minInclusive: true, maxInclusive: false }],
    ['[1.0]', { min: '1.0.0', minInclusive: true, max: '1.0.0', maxInclusive: true }],
    ['(1.0,)', { min: '1.0.0', minInclusive: false, maxInclusive: false }],
    ['[1.0,2.0)', { min: '1.0.0', minInclusive: true, max: '2.0.0', maxInclusive: false }],
    ['(,1.0]', { minInclusive: false, max: '1.0.0', maxInclusive: true }],
    ['(,1.0)', { minInclusive: false, max: '1.0.0', maxInclusive: false }],
    ['[13.0.1, )', { min: '13.0.1', minInclusive: true, maxInclusive: false }],
    ['[ 1.0 , 2.0 ]', { min: '1.0.0', minInclusive: true, max: '2.0.0', maxInclusive: true }],
    ['[1.0.0-beta.1, 2.0.0+meta)', { min: '1.0.0-beta.1', minInclusive: true, max: '2.0.0', maxInclusive: false }],
    ['[1.0,1.0]', { min: '1.0.0', minInclusive: true, max: '1.0.0', maxInclusive: true }],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)}`, () => {
      const range = parseRange(text);
      assert.ok(range);
      assert.deepEqual(
        {
          ...(range.min === undefined ? {} : { min: normalize(range.min) }),
          minInclusive: range.minInclusive,
          ...(range.max === undefined ? {} : { max: normalize(range.max) }),
          maxInclusive: range.maxInclusive,
        },
        expected,
      );
      assert.equal(range.original, text);
    });
  }

  const invalid = ['', '   ', '(,)', '[,]', '(1.0)', '(1.0]', '[1.0)', '[1.0', '1.0]', '[1.0,2.0,3.0]', '[2.0,1.0]', '(1.0,1.0]', '[a,b]', '1.*', '*', '[1.0,x)', '()', '[]'];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseRange(text), undefined));
  }
});

describe('satisfies', () => {
  const cases: Array<[string, string, boolean]> = [
    ['1.0', '1.0.0', true],
    ['1.0', '0.9.9', false],
    ['1.0', '99.0.0', true],
    ['1.0', '1.0.0-beta', false],
    ['1.0.0-beta', '1.0.0-beta.1', true],
    ['[1.0]', '1.0.0.0', true],
    ['[1.0]', '1.0.0.1', false],
    ['[1.0]', '1.0.0+meta', true],
    ['(1.0,)', '1.0.0', false],
    ['(1.0,)', '1.0.1', true],
    ['[1.0,2.0)', '2.0.0', false],
    ['[1.0,2.0)', '2.0.0-alpha', true],
    ['[1.0,2.0]', '2.0.0', true],
    ['(,1.0]', '0.0.1', true],
    ['(,1.0]', '1.0.0', true],
    ['(,1.0)', '1.0.0', false],
    ['[1.0.0-BETA]', '1.0.0-beta', true],
  ];
  for (const [range, version, expected] of cases) {
    it(`${version} ${expected ? 'is' : 'is not'} in ${range}`, () => {
      const parsed = parseRange(range);
      assert.ok(parsed);
      assert.equal(satisfies(parsed, v(version)), expected);
    });
  }
});

describe('rangeIsSemVer2', () => {
  const cases: Array<[string, boolean]> = [
    ['1.0.0', false],
    ['1.0.0-beta', false],
    ['1.0.0-beta.1', true],
    ['1.0.0+meta', true],
    ['[1.0, 2.0.0-rc.1)', true],
    ['(, 2.0.0+sha]', true],
    ['[1.0.0-beta, 2.0)', false],
    ['not a range', false],
    ['', false],
  ];
  for (const [range, expected] of cases) {
    it(`${JSON.stringify(range)} -> ${expected}`, () => assert.equal(rangeIsSemVer2(range), expected));
  }
});

test('lowestApplicable picks the lowest listed version in the range, prereleases only when a bound is one', () => {
  const versions = ['1.0.0', '1.2.0-beta', '1.2.0', '2.0.0', '3.0.0-rc.1'];
  const pick = (range: string): string | undefined => {
    const r = parseRange(range);
    assert.ok(r, range);
    return lowestApplicable(r, versions);
  };
  assert.equal(pick('1.1.0'), '1.2.0');
  assert.equal(pick('[1.0.0, )'), '1.0.0');
  assert.equal(pick('(1.0.0, 2.0.0]'), '1.2.0');
  assert.equal(pick('1.2.0-alpha'), '1.2.0-beta');
  assert.equal(pick('[2.1.0, 3.0.0)'), undefined);
  assert.equal(pick('2.5.0-a'), '3.0.0-rc.1');
});
