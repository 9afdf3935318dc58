/**
 * The e2e suite drives the real .NET SDK. Without it every e2e test must fail loudly (never skip), so this file
 * states the precondition on its own and checks the isolation helpers the other e2e tests rely on.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeIsolatedDotnet, nugetConfigXml, requireDotnet } from '../helpers/dotnet.ts';

test('dotnet --version works and is a .NET 10 (or later) SDK', () => {
  const version = requireDotnet();
  const major = Number.parseInt(version.split('.')[0] ?? '', 10);
  assert.ok(Number.isInteger(major), `unexpected \`dotnet --version\` output: ${JSON.stringify(version)}`);
  assert.ok(major >= 10, `the e2e tests target net10.0 and need the .NET 10 SDK, found ${version}`);
});

test('NuGet.Config clears inherited sources and marks http sources insecure-allowed', () => {
  const xml = nugetConfigXml([
    { name: 'nugate', url: 'http://127.0.0.1:1/v3/index.json', username: 'u', password: 'p&<"' },
    { name: 'secure', url: 'https://example.invalid/v3/index.json' },
  ]);
  assert.match(xml, /<packageSources>\s*<clear \/>/);
  assert.match(xml, /<add key="nugate" value="http:\/\/127\.0\.0\.1:1\/v3\/index\.json" protocolVersion="3" allowInsecureConnections="true" \/>/);
  assert.match(xml, /<add key="secure" value="https:\/\/example\.invalid\/v3\/index\.json" protocolVersion="3" \/>/);
  assert.match(xml, /<nugate>\s*<add key="Username" value="u" \/>\s*<add key="ClearTextPassword" value="p&amp;&lt;&quot;" \/>\s*<\/nugate>/);
});

test('an isolated dotnet sees only the configured sources', async (t) => {
  const iso = await makeIsolatedDotnet({ sources: [{ name: 'only-one', url: 'http://127.0.0.1:9/v3/index.json' }] });
  t.after(() => iso.cleanup());
  const r = await iso.run(['nuget', 'list', 'source', '--configfile', iso.configFile]);
  assert.equal(r.code, 0, `${r.command}\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /only-one \[Enabled\]/);
  assert.doesNotMatch(r.stdout, /nuget\.org/i);
  assert.equal(iso.env['NUGET_PACKAGES'], iso.packagesDir);
  assert.equal(iso.env['NUGET_HTTP_CACHE_PATH'], iso.httpCacheDir);
  assert.equal(iso.env['DOTNET_CLI_HOME'], join(iso.dir, 'home'));
  assert.match(await readFile(iso.configFile, 'utf8'), /<clear \/>/);
});
