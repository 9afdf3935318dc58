import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidPackageError, parseNuspec } from '../../../src/nuget/nuspec.ts';

const NS = 'http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd';

function nuspec(metadata: string, metadataAttrs = ''): string {
  return `<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="${NS}">\n  <metadata${metadataAttrs}>\n${metadata}\n  </metadata>\n</package>\n`;
}

function assertInvalid(xml: string | Uint8Array, message: RegExp): void {
  assert.throws(
    () => parseNuspec(xml),
    (err: unknown) => {
      assert.ok(err instanceof InvalidPackageError, `expected InvalidPackageError, got ${String(err)}`);
      assert.equal(err.code, 'INVALID_PACKAGE');
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('parseNuspec', () => {
  it('reads the metadata fields', () => {
    const xml = nuspec(
      `<id>Contoso.Utils</id>
    <version>2.1.0-beta.1+sha.5</version>
    <title>Contoso Utilities</title>
    <authors>Contoso, Jane</authors>
    <description>  Helpers &amp; more.  </description>
    <license type="expression">MIT OR Apache-2.0</license>
    <projectUrl>https://example.test/utils</projectUrl>
    <tags>util helpers</tags>
    <icon>images\\icon.png</icon>
    <readme>docs/README.md</readme>
    <packageTypes><packageType name="DotnetTool" /><packageType name="Template" version="1.0" /></packageTypes>`,
      ' minClientVersion="5.3"',
    );
    assert.deepEqual(parseNuspec(xml), {
      id: 'Contoso.Utils',
      version: '2.1.0-beta.1+sha.5',
      title: 'Contoso Utilities',
      authors: 'Contoso, Jane',
      description: 'Helpers & more.',
      licenseExpression: 'MIT OR Apache-2.0',
      projectUrl: 'https://example.test/utils',
      tags: 'util helpers',
      icon: 'images\\icon.png',
      readme: 'docs/README.md',
      packageTypes: ['DotnetTool', 'Template'],
      minClientVersion: '5.3',
      dependencyGroups: [],
    });
  });

  it('keeps "1.10" as written instead of turning it into the number 1.1', () => {
    const parsed = parseNuspec(nuspec('<id>A</id><version>1.10</version><title>1.50</title><tags>007</tags>'));
    assert.equal(parsed.version, '1.10');
    assert.equal(parsed.title, '1.50');
    assert.equal(parsed.tags, '007');
  });

  it('reads dependency groups, including empty ones', () => {
    const xml = nuspec(`<id>A</id><version>1.0.0</version>
    <dependencies>
      <group targetFramework=".NETStandard2.0">
        <dependency id="System.Memory" version="4.5.5" exclude="Build,Analyzers" />
        <dependency id="System.Buffers" version="[4.5.1, )" />
      </group>
      <group targetFramework="net8.0" />
      <group>
        <dependency id="Any.Framework" version="1.10" />
      </group>
      <group targetFramework="net6.0"><dependency id="Single" /></group>
    </dependencies>`);
    assert.deepEqual(parseNuspec(xml).dependencyGroups, [
      {
        targetFramework: '.NETStandard2.0',
        dependencies: [
          { id: 'System.Memory', range: '4.5.5' },
          { id: 'System.Buffers', range: '[4.5.1, )' },
        ],
      },
      { targetFramework: 'net8.0', dependencies: [] },
      { dependencies: [{ id: 'Any.Framework', range: '1.10' }] },
      { targetFramework: 'net6.0', dependencies: [{ id: 'Single' }] },
    ]);
  });

  it('turns the flat (pre-2.0) dependency list into one group without a framework', () => {
    const xml = nuspec(`<id>A</id><version>1.0.0</version>
    <dependencies>
      <dependency id="xunit.extensibility.core" version="[2.9.3]" />
      <dependency id="NoRange" />
    </dependencies>`);
    assert.deepEqual(parseNuspec(xml).dependencyGroups, [
      { dependencies: [{ id: 'xunit.extensibility.core', range: '[2.9.3]' }, { id: 'NoRange' }] },
    ]);
  });

  it('reads a single flat dependency (not wrapped in an array by the parser)', () => {
    const xml = nuspec('<id>A</id><version>1.0.0</version><dependencies><dependency id="Only" version="1.0" /></dependencies>');
    assert.deepEqual(parseNuspec(xml).dependencyGroups, [{ dependencies: [{ id: 'Only', range: '1.0' }] }]);
  });

  it('ignores the flat list when groups exist, as NuGet does', () => {
    const xml = nuspec(`<id>A</id><version>1.0.0</version>
    <dependencies><dependency id="Flat" version="1.0" /><group targetFramework="net8.0" /></dependencies>`);
    assert.deepEqual(parseNuspec(xml).dependencyGroups, [{ targetFramework: 'net8.0', dependencies: [] }]);
  });

  it('returns no groups for an empty <dependencies/>', () => {
    assert.deepEqual(parseNuspec(nuspec('<id>A</id><version>1.0.0</version><dependencies />')).dependencyGroups, []);
  });

  it('does not report file licenses as expressions', () => {
    const parsed = parseNuspec(nuspec('<id>A</id><version>1.0.0</version><license type="file">LICENSE.txt</license>'));
    assert.equal(parsed.licenseExpression, undefined);
    assert.equal('licenseExpression' in parsed, false);
  });

  it('accepts a nuspec without a namespace and with a prefixed one', () => {
    assert.equal(parseNuspec('<package><metadata><id>A</id><version>1.0</version></metadata></package>').id, 'A');
    const prefixed = `<n:package xmlns:n="${NS}"><n:metadata><n:id>B</n:id><n:version>2.0</n:version></n:metadata></n:package>`;
    assert.deepEqual(parseNuspec(prefixed), { id: 'B', version: '2.0', dependencyGroups: [], packageTypes: [] });
  });

  it('decodes UTF-8 bytes with a BOM and UTF-16LE bytes', () => {
    const text = nuspec('<id>A</id><version>1.0.0</version><authors>Zoë Ünal</authors>');
    const utf8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    assert.equal(parseNuspec(utf8).authors, 'Zoë Ünal');
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text.replace('utf-8', 'utf-16'), 'utf16le')]);
    assert.equal(parseNuspec(utf16).authors, 'Zoë Ünal');
  });

  it('throws when <id> is missing or empty', () => {
    assertInvalid(nuspec('<version>1.0.0</version>'), /no <id>/);
    assertInvalid(nuspec('<id>  </id><version>1.0.0</version>'), /no <id>/);
  });

  it('throws when <version> is missing', () => {
    assertInvalid(nuspec('<id>A</id>'), /no <version>/);
  });

  it('throws for an invalid id or version', () => {
    assertInvalid(nuspec('<id>../etc</id><version>1.0.0</version>'), /not a valid package id/);
    assertInvalid(nuspec('<id>A</id><version>1.0.0.0.0</version>'), /not a NuGet version/);
  });

  it('throws without <package><metadata>', () => {
    assertInvalid('<package><id>A</id><version>1.0</version></package>', /no <package><metadata>/);
    assertInvalid('<nuspec><metadata><id>A</id><version>1.0</version></metadata></nuspec>', /no <package><metadata>/);
    assertInvalid('<package />', /no <package><metadata>/);
  });

  it('throws for malformed or truncated XML and for non-XML input', () => {
    const whole = nuspec('<id>A</id><version>1.0.0</version>');
    assertInvalid(whole.slice(0, whole.length / 2), /well-formed/);
    assertInvalid('not xml at all', /no <package><metadata>|well-formed/);
    assertInvalid('', /no <package><metadata>|well-formed/);
    assertInvalid(new Uint8Array([0xc3, 0x28, 0x3c]), /not valid utf-8/);
  });

  it('does not resolve external entities or blow up nested ones', () => {
    const external = `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<package><metadata><id>A</id><version>1.0</version><description>&xxe;</description></metadata></package>`;
    assert.throws(() => parseNuspec(external), InvalidPackageError);

    const lol = Array.from({ length: 10 }, () => '&lol;').join('');
    const bomb = `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY lol "lol"><!ENTITY lol2 "${lol}">
<!ENTITY lol3 "${lol.replaceAll('lol', 'lol2')}"><!ENTITY lol4 "${lol.replaceAll('lol', 'lol3')}">]>
<package><metadata><id>A</id><version>1.0</version><description>&lol4;</description></metadata></package>`;
    let description: string | undefined;
    try {
      description = parseNuspec(bomb).description;
    } catch (err) {
      assert.ok(err instanceof InvalidPackageError);
    }
    // Either refused or left (mostly) unexpanded; never the 30,000-character expansion.
    assert.ok((description ?? '').length < 1000);
  });
});
