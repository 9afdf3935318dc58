/**
 * The upstream of the air-gap tests: the machine's real packages (xunit, Microsoft.NET.Test.Sdk and their closure)
 * plus small generated stand-ins for what those packages name for other target frameworks and the machine's store
 * lacks (NETStandard.Library 1.6.1, System.Memory 4.5.5, …), so the every-framework closure resolves completely.
 * Also two versions of a small generated package, the older one listed as vulnerable (severity 2 → NU1903).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNupkg } from './e2e-nupkg.ts';
import { loadPackageFromNupkg, loadPackages } from './packages.ts';
import { startStaticFeed, type StaticFeed } from './static-feed.ts';

/** Dependencies the real packages name (for some framework) that /opt/nuget/packages does not hold. */
export const STAND_INS = [
  ['NETStandard.Library', '1.6.1'],
  ['Microsoft.CSharp', '4.3.0'],
  ['System.ComponentModel.TypeConverter', '4.3.0'],
  ['System.Runtime.Serialization.Formatters', '4.3.0'],
  ['System.Runtime.Serialization.Primitives', '4.3.0'],
  ['System.Xml.XmlDocument', '4.3.0'],
  ['System.Memory', '4.5.5'],
  ['System.Runtime.CompilerServices.Unsafe', '6.0.0'],
] as const;

export const VULNERABLE = { id: 'Contoso.Vulnerable', version: '1.0.0', fixed: '1.1.0' } as const;

export interface AirgapFeed {
  feed: StaticFeed;
  /** GET requests for .nupkg files that reached the upstream. */
  nupkgFetches(): number;
  /** Adds a generated package to the upstream (a package published after a bundle was made). */
  publish(id: string, version: string): Promise<void>;
  close(): Promise<void>;
}

export async function startAirgapFeed(): Promise<AirgapFeed> {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-airgap-feed-'));
  const extra: Array<{ path: string }> = [];
  for (const [id, version] of STAND_INS) extra.push({ path: (await writeNupkg(dir, { id, version, targetFramework: 'netstandard1.0' })).path });
  for (const version of [VULNERABLE.version, VULNERABLE.fixed]) extra.push({ path: (await writeNupkg(dir, { id: VULNERABLE.id, version, targetFramework: 'netstandard2.0' })).path });
  const feed = await startStaticFeed({
    packages: await loadPackages(),
    extraPackages: extra,
    vulnerabilities: {
      [VULNERABLE.id.toLowerCase()]: [{ severity: 2, url: 'https://advisories.example.test/CONTOSO-2026-1', versions: `(, ${VULNERABLE.fixed})` }],
    },
  });
  return {
    feed,
    nupkgFetches: () => feed.count((r) => r.method === 'GET' && r.url.endsWith('.nupkg')),
    async publish(id, version) {
      feed.addPackage(await loadPackageFromNupkg((await writeNupkg(dir, { id, version, targetFramework: 'netstandard2.0' })).path));
    },
    async close() {
      await feed.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
