import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { chooseTarget } from '../../../src/publish/target.ts';
import { NugateError } from '../../../src/errors.ts';

const two = [
  { name: 'nuget.org', url: 'https://api.nuget.org/v3/index.json' },
  { name: 'internal', url: 'https://feed.example.com/v3/index.json' },
];

describe('chooseTarget', () => {
  it('uses publish.upstream when set, whatever the id', () => {
    const config = parseConfig({ upstreams: two, publish: { upstream: 'INTERNAL' } });
    assert.equal(chooseTarget(config, () => [], 'Anything').name, 'internal');
  });

  it('uses the only upstream when there is one and no mapping', () => {
    const config = parseConfig({ upstreams: [two[1]] });
    assert.equal(chooseTarget(config, () => ['internal'], 'Foo').name, 'internal');
  });

  it('takes the first eligible upstream under packageSourceMapping', () => {
    const config = parseConfig({ upstreams: two, packageSourceMapping: { internal: ['Contoso.*'], 'nuget.org': ['*'] } });
    const eligible = (id: string): string[] => (id.toLowerCase().startsWith('contoso.') ? ['internal'] : ['nuget.org']);
    assert.equal(chooseTarget(config, eligible, 'Contoso.Widgets').name, 'internal');
    assert.equal(chooseTarget(config, eligible, 'Newtonsoft.Json').name, 'nuget.org');
  });

  it('refuses with 400 when the mapping allows no upstream', () => {
    const config = parseConfig({ upstreams: two, packageSourceMapping: { internal: ['Contoso.*'] } });
    assert.throws(
      () => chooseTarget(config, () => [], 'Newtonsoft.Json'),
      (err: unknown) => err instanceof NugateError && err.status === 400 && /Newtonsoft\.Json/.test(err.message),
    );
  });

  it('refuses with 400 to guess among several unmapped upstreams', () => {
    const config = parseConfig({ upstreams: two });
    assert.throws(
      () => chooseTarget(config, () => ['nuget.org', 'internal'], 'Foo'),
      (err: unknown) => err instanceof NugateError && err.status === 400 && /publish\.upstream/.test(err.message),
    );
  });
});
