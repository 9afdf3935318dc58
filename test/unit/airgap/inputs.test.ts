import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InputError, readInputs } from '../../../src/airgap/inputs.ts';
import { chooseVersion, describeSpec, type Requirement } from '../../../src/airgap/spec.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nugate-inputs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function file(rel: string, text: string): Promise<string> {
  const path = join(dir, rel);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

const shown = (reqs: Requirement[]): string[] => reqs.map((r) => `${r.id} ${describeSpec(r.spec)}`);

describe('readInputs', () => {
  it('reads a project: Version attribute, Version child element, VersionOverride, properties; skips Update items', async () => {
    const p = await file('a/A.csproj', `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><XunitVersion>2.9.3</XunitVersion></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="xunit" Version="$(XunitVersion)" />
    <PackageReference Include="Newtonsoft.Json"><Version>[13.0.3]</Version></PackageReference>
    <PackageReference Include="Serilog" Version="1.0" VersionOverride="3.*" />
    <PackageReference Update="Other" Version="1.0.0" />
  </ItemGroup>
</Project>`);
    assert.deepEqual(shown(await readInputs([p])), ['xunit 2.9.3', 'Newtonsoft.Json [13.0.3]', 'Serilog 3.*']);
  });

  it('takes versions from the nearest Directory.Packages.props under central management; a folder is searched', async () => {
    await file('cpm/Directory.Packages.props', `<Project><ItemGroup><PackageVersion Include="xunit" Version="2.9.3" /><GlobalPackageReference Include="Analyzer" Version="1.0.0" /></ItemGroup></Project>`);
    await file('cpm/src/Lib/Lib.fsproj', `<Project><ItemGroup><PackageReference Include="XUnit" /></ItemGroup></Project>`);
    await file('cpm/src/Lib/obj/project.assets.json', '{}'); // build output: never searched
    const reqs = await readInputs([join(dir, 'cpm')]);
    assert.deepEqual(shown(reqs).sort(), ['Analyzer 1.0.0', 'XUnit 2.9.3', 'xunit 2.9.3']);
  });

  it('reads packages.lock.json and project.assets.json as exact versions, skipping projects', async () => {
    const lock = await file('l/packages.lock.json', JSON.stringify({ version: 1, dependencies: { 'net10.0': { xunit: { type: 'Direct', requested: '[2.9.3, )', resolved: '2.9.3' }, Lib: { type: 'Project' } } } }));
    const assets = await file('l/obj/project.assets.json', JSON.stringify({ version: 3, libraries: { 'xunit.core/2.9.3': { type: 'package' }, 'Lib/1.0.0': { type: 'project' } } }));
    assert.deepEqual(shown(await readInputs([lock, assets])), ['xunit [2.9.3]', 'xunit.core [2.9.3]']);
  });

  it('reads solutions (.sln and .slnx) through their projects', async () => {
    await file('s/P/P.csproj', `<Project><ItemGroup><PackageReference Include="A" Version="1.0.0" /></ItemGroup></Project>`);
    const sln = await file('s/S.sln', 'Microsoft Visual Studio Solution File, Format Version 12.00\nProject("{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}") = "P", "P\\P.csproj", "{11111111-1111-1111-1111-111111111111}"\nEndProject\n');
    const slnx = await file('s/S.slnx', '<Solution><Folder Name="/src/"><Project Path="P/P.csproj" /></Folder></Solution>');
    assert.deepEqual(shown(await readInputs([sln])), ['A 1.0.0']);
    assert.deepEqual(shown(await readInputs([slnx])), ['A 1.0.0']);
  });

  it('reads a .txt list: Id@Version, Id@Range, Id alone, comments', async () => {
    const list = await file('list.txt', '# comment\nxunit@2.9.3\n\nNewtonsoft.Json@[13.0, 14.0)\nSerilog   # latest\n');
    assert.deepEqual(shown(await readInputs([list])), ['xunit 2.9.3', 'Newtonsoft.Json [13.0, 14.0)', 'Serilog latest stable']);
  });

  it('names the file and line of a bad input', async () => {
    const bad = await file('bad.txt', 'xunit@not-a-version\n');
    await assert.rejects(readInputs([bad]), (err: unknown) => err instanceof InputError && /bad\.txt:1: "not-a-version"/.test(err.message));
    await assert.rejects(readInputs([join(dir, 'nope.csproj')]), InputError);
    const unknown = await file('x.json', '{}');
    await assert.rejects(readInputs([unknown]), /not a prefetch input/);
  });
});

describe('chooseVersion', () => {
  const versions = ['1.0.0', '1.1.0-beta', '1.1.0', '2.0.0', '3.0.0-rc.1'];
  const cases: Array<[string, string | undefined]> = [
    ['1.0.5', '1.1.0'],
    ['[2.0.0]', '2.0.0'],
    ['1.*', '1.1.0'],
    ['*-*', '3.0.0-rc.1'],
    ['', '2.0.0'],
    ['[4.0, )', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${String(expected)}`, async () => {
      const list = await file(`c${cases.findIndex((c) => c[0] === text)}.txt`, text === '' ? 'Pkg\n' : `Pkg@${text}\n`);
      const [req] = await readInputs([list]);
      assert.ok(req);
      assert.equal(chooseVersion(req.spec, versions), expected);
    });
  }
});
