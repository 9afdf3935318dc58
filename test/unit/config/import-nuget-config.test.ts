import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { importNuGetConfig } from '../../../src/config/import-nuget-config.ts';
import { upstreamSchema } from '../../../src/config/schema.ts';

const FULL = `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="ignored-before-clear" value="https://old.example/v3/index.json" />
    <clear />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
    <add key="Contoso Feed" value="https://pkgs.contoso.test/nuget/v3/index.json" />
    <add key="Artifactory" value="https://art.contoso.test/api/nuget/v3/remote" protocolVersion="3" />
    <add key="Local" value="C:\\packages" />
    <add key="Legacy" value="https://legacy.contoso.test/nuget/" />
    <add key="Off" value="https://off.contoso.test/v3/index.json" />
  </packageSources>
  <disabledPackageSources>
    <add key="Off" value="true" />
    <add key="nuget.org" value="false" />
  </disabledPackageSources>
  <packageSourceCredentials>
    <Contoso_x0020_Feed>
      <add key="Username" value="alice@contoso.test" />
      <add key="ClearTextPassword" value="s3cr3t-PAT-value" />
    </Contoso_x0020_Feed>
  </packageSourceCredentials>
  <packageSourceMapping>
    <packageSource key="nuget.org">
      <package pattern="*" />
    </packageSource>
    <packageSource key="Contoso Feed">
      <package pattern="Contoso.*" />
      <package pattern="Contoso.Widgets" />
    </packageSource>
  </packageSourceMapping>
</configuration>`;

describe('importNuGetConfig', () => {
  it('imports V3 http(s) sources in order, honouring <clear/> and disabled sources', () => {
    const r = importNuGetConfig(FULL);
    assert.deepEqual(
      r.upstreams.map((u) => [u.name, u.url]),
      [
        ['nuget.org', 'https://api.nuget.org/v3/index.json'],
        ['Contoso-Feed', 'https://pkgs.contoso.test/nuget/v3/index.json'],
        ['Artifactory', 'https://art.contoso.test/api/nuget/v3/remote'],
      ],
    );
    assert.ok(r.warnings.some((w) => w.includes('"Local"') && w.includes('local folder')));
    assert.ok(r.warnings.some((w) => w.includes('"Legacy"') && w.includes('V2')));
    assert.ok(r.warnings.some((w) => w.includes('"Off"') && w.includes('disabled')));
    assert.ok(r.warnings.some((w) => w.includes('renamed') && w.includes('Contoso-Feed')));
    assert.ok(!r.upstreams.some((u) => u.name === 'ignored-before-clear'));
  });

  it('every imported upstream passes the config schema', () => {
    for (const u of importNuGetConfig(FULL).upstreams) {
      assert.equal(upstreamSchema.safeParse(u).success, true, u.name);
    }
  });

  it('turns credentials into env references and never copies secrets', () => {
    const r = importNuGetConfig(FULL);
    const contoso = r.upstreams.find((u) => u.name === 'Contoso-Feed');
    assert.deepEqual(contoso?.auth, { type: 'basic', usernameEnv: 'NUGATE_CONTOSO_FEED_USERNAME', passwordEnv: 'NUGATE_CONTOSO_FEED_PASSWORD' });
    assert.deepEqual(
      r.env.map((e) => e.name),
      ['NUGATE_CONTOSO_FEED_USERNAME', 'NUGATE_CONTOSO_FEED_PASSWORD'],
    );
    const out = JSON.stringify(r);
    assert.ok(!out.includes('s3cr3t-PAT-value'));
    assert.ok(!out.includes('alice@contoso.test'));
    assert.equal(r.upstreams.find((u) => u.name === 'nuget.org')?.auth, undefined);
  });

  it('keeps mapping keys consistent with the sanitized names', () => {
    const r = importNuGetConfig(FULL);
    assert.deepEqual(r.packageSourceMapping, { 'nuget.org': ['*'], 'Contoso-Feed': ['Contoso.*', 'Contoso.Widgets'] });
  });

  it('strips credentials embedded in a source URL', () => {
    const r = importNuGetConfig(`<configuration><packageSources>
      <add key="feed" value="https://bob:hunter2@feed.test/v3/index.json" /></packageSources></configuration>`);
    assert.equal(r.upstreams[0]?.url, 'https://feed.test/v3/index.json');
    assert.equal(r.upstreams[0]?.auth?.passwordEnv, 'NUGATE_FEED_PASSWORD');
    assert.ok(!JSON.stringify(r).includes('hunter2'));
  });

  it('notes encrypted passwords and missing usernames', () => {
    const r = importNuGetConfig(`<configuration>
      <packageSources><add key="az" value="https://az.test/v3/index.json" /></packageSources>
      <packageSourceCredentials><az><add key="Password" value="AQAAANCMnd8BFdERjHoAwE" /></az></packageSourceCredentials>
    </configuration>`);
    assert.ok(r.env.some((e) => e.name === 'NUGATE_AZ_PASSWORD' && e.description.includes('encrypted')));
    assert.ok(r.warnings.some((w) => w.includes('no Username')));
    assert.ok(!JSON.stringify(r).includes('AQAAANCMnd8BFdERjHoAwE'));
  });

  it('makes names and env variables unique', () => {
    const r = importNuGetConfig(`<configuration><packageSources>
      <add key="a.b" value="https://one.test/v3/index.json" />
      <add key="a-b" value="https://two.test/v3/index.json" />
      <add key="a b" value="https://three.test/v3/index.json" />
      <add key="A.B" value="https://four.test/v3/index.json" />
    </packageSources>
    <packageSourceCredentials>
      <a.b><add key="Username" value="x"/><add key="ClearTextPassword" value="y"/></a.b>
      <a-b><add key="Username" value="x"/><add key="ClearTextPassword" value="y"/></a-b>
    </packageSourceCredentials></configuration>`);
    // "A.B" replaces "a.b" (keys are case-insensitive); "a b" sanitizes to "a-b", which is taken.
    assert.deepEqual(
      r.upstreams.map((u) => u.name),
      ['A.B', 'a-b', 'a-b-2'],
    );
    const envNames = r.env.map((e) => e.name);
    assert.equal(new Set(envNames).size, envNames.length);
    assert.deepEqual(envNames, ['NUGATE_A_B_USERNAME', 'NUGATE_A_B_PASSWORD', 'NUGATE_A_B_2_USERNAME', 'NUGATE_A_B_2_PASSWORD']);
  });

  it('warns when dropping the mapping of a skipped source could widen what another upstream serves', () => {
    const r = importNuGetConfig(`<configuration>
      <packageSources>
        <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
        <add key="internal" value="\\\\share\\packages" />
      </packageSources>
      <packageSourceMapping>
        <packageSource key="nuget.org"><package pattern="*" /></packageSource>
        <packageSource key="internal"><package pattern="Contoso.*" /></packageSource>
      </packageSourceMapping>
    </configuration>`);
    assert.deepEqual(r.packageSourceMapping, { 'nuget.org': ['*'] });
    assert.ok(r.warnings.some((w) => w.includes('"Contoso.*"') && w.includes('dependency confusion')));
  });

  it('leaves the mapping out when there is none', () => {
    const r = importNuGetConfig('<configuration><packageSources><add key="x" value="https://x.test/index.json"/></packageSources></configuration>');
    assert.equal(r.packageSourceMapping, undefined);
    assert.deepEqual(r.env, []);
  });

  it('rejects malformed XML and a wrong root', () => {
    assert.throws(() => importNuGetConfig('<configuration><packageSources></configuration>'), /well-formed/);
    assert.throws(() => importNuGetConfig('<settings/>'), /configuration/);
  });
});
