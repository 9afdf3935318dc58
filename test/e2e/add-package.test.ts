/**
 * protocol.md §5 item 68: `dotnet add package Newtonsoft.Json` with no version picks the latest listed stable
 * version through nugate's registration, with nugate as the only source. The upstream serves its registration
 * gzip-encoded regardless of Accept-Encoding, like nuget.org's gz hives (protocol.md §3, §4 pitfall 6).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FORBIDDEN_NUGET_CODES, describeResult, makeIsolatedDotnet, nugetCodes, requestedUrls } from '../helpers/dotnet.ts';
import { nugateConfigFor, startNugate } from '../helpers/nugate-process.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';

test('dotnet add package Newtonsoft.Json (no version) through nugate resolves 13.0.3', { timeout: 300_000 }, async (t) => {
  const feed = await startStaticFeed({ gzipRegistration: true });
  t.after(() => feed.close());
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'static', url: feed.indexUrl }]) });
  t.after(() => nugate.stop());
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());

  const project = await dotnet.writeProject('App', []);
  // `dotnet add package` takes no --configfile: the project sits under dotnet.dir, whose NuGet.Config (<clear/>) is found first.
  const r = await dotnet.run(['add', 'package', 'Newtonsoft.Json'], { cwd: project });
  const context = `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  assert.equal(r.code, 0, context);
  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in output\n${context}`);

  const csproj = await readFile(join(project, 'App.csproj'), 'utf8');
  assert.match(csproj, /<PackageReference Include="Newtonsoft\.Json" Version="13\.0\.3" \/>/, csproj);

  const urls = requestedUrls(r);
  for (const u of urls) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
  // The version was chosen from nugate's registration index (the client logs each GET of `dotnet add package`).
  assert.ok(
    urls.some((u) => /\/newtonsoft\.json\/index\.json$/.test(u) && !u.includes('flat')),
    `no registration request in the client log:\n${urls.join('\n')}`,
  );
  assert.ok(feed.count('/v3/registration/newtonsoft.json/') >= 1, 'nugate never asked the upstream registration');
  assert.ok(!`${r.stdout}${r.stderr}`.includes(feed.url), 'the upstream address leaked into the client output');
});
