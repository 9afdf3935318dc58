/**
 * protocol.md §5 item 69: `dotnet package search` through nugate returns results. NuGet.Protocol finds search only
 * under SearchQueryService/Versioned, /3.4.0 or /3.0.0-beta (protocol.md §0.1), so this also proves the service
 * index advertises a type the client matches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeResult, makeIsolatedDotnet } from '../helpers/dotnet.ts';
import { nugateConfigFor, startNugate } from '../helpers/nugate-process.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';

interface SearchOutput {
  problems?: Array<{ text?: string; problemType?: string }>;
  searchResult?: Array<{ sourceName?: string; packages?: Array<{ id?: string; latestVersion?: string; totalDownloads?: number }> }>;
}

test('dotnet package search xunit --source <nugate> returns xunit', { timeout: 300_000 }, async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'static', url: feed.indexUrl }]) });
  t.after(() => nugate.stop());
  // The http source must also be in the config file with allowInsecureConnections, or search fails (NU1302-class).
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());

  const r = await dotnet.run(['package', 'search', 'xunit', '--source', nugate.indexUrl, '--configfile', dotnet.configFile, '--format', 'json']);
  const context = `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  assert.equal(r.code, 0, context);
  let out: SearchOutput;
  try {
    out = JSON.parse(r.stdout) as SearchOutput;
  } catch {
    assert.fail(`search output is not JSON\n${context}`);
  }
  assert.deepEqual(out.problems ?? [], [], context);
  const packages = (out.searchResult ?? []).flatMap((s) => s.packages ?? []);
  const xunit = packages.find((p) => p.id === 'xunit');
  assert.ok(xunit !== undefined, `xunit not in results: ${packages.map((p) => p.id).join(', ')}\n${context}`);
  assert.equal(xunit.latestVersion, '2.9.3');
  assert.ok(packages.length >= 2, 'a substring search for xunit finds the whole xunit family');
  assert.ok(feed.count('/query?') >= 1, 'nugate never asked the upstream search service');
  assert.ok(!r.stdout.includes(feed.url), 'the upstream address leaked into the search output');
});
