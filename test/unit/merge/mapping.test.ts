import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileMapping } from '../../../src/merge/mapping.ts';

const ORDER = ['nuget.org', 'internal', 'mirror'];

describe('compileMapping', () => {
  it('without a mapping every upstream is eligible, in priority order', () => {
    const m = compileMapping(undefined, ORDER);
    assert.equal(m.mapped, false);
    assert.deepEqual(m.eligible('Anything'), ORDER);
    assert.deepEqual(m.explain('Anything'), { pattern: undefined, upstreams: ORDER });
  });

  it('an empty mapping is "feature off", like NuGet', () => {
    const m = compileMapping({}, ORDER);
    assert.equal(m.mapped, false);
    assert.deepEqual(m.eligible('x'), ORDER);
  });

  it('dependency confusion: a private prefix is served only by its upstream', () => {
    const m = compileMapping({ internal: ['Contoso.*'], 'nuget.org': ['*'] }, ORDER);
    assert.equal(m.mapped, true);
    assert.deepEqual(m.eligible('Contoso.Widgets'), ['internal']);
    assert.deepEqual(m.eligible('contoso.widgets'), ['internal']);
    assert.deepEqual(m.eligible('Newtonsoft.Json'), ['nuget.org']);
    // `Contoso.*` is a prefix of "Contoso." only: "ContosoX" falls through to "*".
    assert.deepEqual(m.eligible('ContosoX'), ['nuget.org']);
    assert.deepEqual(m.explain('CONTOSO.WIDGETS'), { pattern: 'Contoso.*', upstreams: ['internal'] });
  });

  it('an exact id beats any prefix, a longer prefix beats a shorter one', () => {
    const m = compileMapping(
      {
        'nuget.org': ['*', 'Contoso.Public.*', 'Contoso.Widgets'],
        internal: ['Contoso.*', 'Contoso.Widgets*'],
      },
      ORDER,
    );
    assert.deepEqual(m.eligible('Contoso.Widgets'), ['nuget.org']);
    assert.deepEqual(m.explain('contoso.widgets').pattern, 'Contoso.Widgets');
    assert.deepEqual(m.eligible('Contoso.Widgets.Extra'), ['internal']);
    assert.deepEqual(m.eligible('Contoso.Public.Thing'), ['nuget.org']);
    assert.deepEqual(m.eligible('Contoso.Other'), ['internal']);
    assert.deepEqual(m.eligible('Other'), ['nuget.org']);
  });

  it('an id no pattern matches is not served', () => {
    const m = compileMapping({ internal: ['Contoso.*'] }, ORDER);
    assert.deepEqual(m.eligible('Newtonsoft.Json'), []);
    assert.deepEqual(m.explain('Newtonsoft.Json'), { pattern: undefined, upstreams: [] });
    // Upstreams missing from the mapping never serve anything.
    assert.deepEqual(m.eligible('Contoso.A'), ['internal']);
  });

  it('every source declaring the winning pattern is eligible, in configured order with configured spelling', () => {
    const m = compileMapping({ MIRROR: ['contoso.*'], Internal: ['CONTOSO.*'], 'NuGet.org': ['*'] }, ['Mirror', 'Internal', 'nuget.org']);
    assert.deepEqual(m.eligible('Contoso.A'), ['Mirror', 'Internal']);
    assert.deepEqual(m.eligible('Other'), ['nuget.org']);
  });

  it('a lone "*" matches everything, including single-character ids', () => {
    const m = compileMapping({ mirror: ['*'] }, ORDER);
    assert.deepEqual(m.eligible('A'), ['mirror']);
  });

  it('rejects malformed patterns and unknown upstreams instead of failing open', () => {
    assert.throws(() => compileMapping({ internal: ['Contoso*.Widgets'] }, ORDER), /Contoso\*\.Widgets/);
    assert.throws(() => compileMapping({ internal: ['  '] }, ORDER), TypeError);
    assert.throws(() => compileMapping({ nobody: ['*'] }, ORDER), /nobody/);
  });

  it('returns fresh arrays (callers may mutate them)', () => {
    const m = compileMapping(undefined, ORDER);
    m.eligible('x').pop();
    assert.deepEqual(m.eligible('x'), ORDER);
  });
});
