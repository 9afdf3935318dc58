/**
 * Warm `dotnet restore` through nugate vs. the same restore from a local folder feed of the same packages.
 *
 * nugate (its own process, unpinned) sits in front of test/helpers/static-feed.ts, which serves the machine's
 * package store (/opt/nuget/packages) as a V3 feed; one restore warms nugate. Then N timed rounds, each running
 * every series once (the order rotates between rounds, so drift in the machine's speed hits all alike). Before
 * every restore, NUGET_PACKAGES, the NuGet http cache and the project's obj/ are emptied and `--force` is given,
 * so each run resolves and extracts the whole closure (what a CI job on a fresh agent does). The wall time of
 * the whole `dotnet restore` process is what is measured.
 *
 * Series:
 * - nugate: the target's numerator;
 * - local: `--source /opt/nuget/packages` (a local folder feed), the target's denominator;
 * - direct: the static feed itself over HTTP, no nugate (diagnostic: the cost of an HTTP source as such);
 * - nugate, NuGetAudit=false (diagnostic: what the vulnerability audit, which only HTTP feeds offer, adds).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeResult, makeIsolatedDotnet, nugetConfigXml, requireDotnet } from '../../test/helpers/dotnet.ts';
import { DEFAULT_PACKAGES_ROOT } from '../../test/helpers/packages.ts';
import { startStaticFeed } from '../../test/helpers/static-feed.ts';
import { startNugateProcess } from './nugate.ts';
import { addCleanup } from './procs.ts';
import { foreignCores, snapshot } from './cpu.ts';

export const RESTORE_REFS = [
  { id: 'xunit', version: '2.9.3' },
  { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
];

export type RestoreSeries = 'nugate' | 'local' | 'direct' | 'nugateNoAudit';
export const SERIES_TITLE: Record<RestoreSeries, string> = {
  nugate: 'through warm nugate',
  local: 'local folder feed',
  direct: 'static feed over HTTP, no nugate',
  nugateNoAudit: 'through warm nugate, NuGetAudit=false',
};
const SERIES: readonly RestoreSeries[] = ['nugate', 'local', 'direct', 'nugateNoAudit'];

export interface RestoreResult {
  dotnetVersion: string;
  /** First restore through a cold nugate (fills its cache). */
  coldMs: number;
  ms: Record<RestoreSeries, number[]>;
  /** Rounds redone because other processes used the CPU meanwhile. */
  redone: number;
}

/** A round during which other processes used more than this many cores (on average) is redone. */
const DISTURBED_CORES = 0.15;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2;
}

export async function restoreBench(o: { dir: string; runs: number; log: (line: string) => void }): Promise<RestoreResult> {
  const dotnetVersion = requireDotnet();
  const feed = await startStaticFeed();
  // On Ctrl-C, stopAll() closes the feed and removes dotnet's temp dir even though this function never returns.
  let dotnetCleanup: (() => Promise<void>) | undefined;
  const unregister = addCleanup(async () => {
    await dotnetCleanup?.().catch(() => undefined);
    await feed.close();
  });
  let nugate: Awaited<ReturnType<typeof startNugateProcess>> | undefined;
  let dotnet: Awaited<ReturnType<typeof makeIsolatedDotnet>> | undefined;
  try {
    nugate = await startNugateProcess({ name: 'nugate-restore', dir: join(o.dir, 'nugate-restore'), upstream: feed.indexUrl });
    dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: `${nugate.url}/v3/index.json` }] });
    const d = dotnet;
    dotnetCleanup = () => d.cleanup();
    const project = await d.writeProject('Bench', RESTORE_REFS);
    const directConfig = join(d.dir, 'NuGet.direct.Config');
    await writeFile(directConfig, nugetConfigXml([{ name: 'static', url: feed.indexUrl }]));

    const reset = async (): Promise<void> => {
      await Promise.all([d.packagesDir, d.httpCacheDir, join(project, 'obj')].map((p) => rm(p, { recursive: true, force: true })));
      await Promise.all([mkdir(d.packagesDir, { recursive: true }), mkdir(d.httpCacheDir, { recursive: true })]);
    };
    const restore = async (series: RestoreSeries): Promise<number> => {
      await reset();
      const args = ['restore', project, '--configfile', series === 'direct' ? directConfig : d.configFile, '--force', '-v', 'q'];
      if (series === 'local') args.push('--source', DEFAULT_PACKAGES_ROOT);
      if (series === 'nugateNoAudit') args.push('-p:NuGetAudit=false');
      const started = performance.now();
      const r = await d.run(args, { timeoutMs: 180_000 });
      const ms = performance.now() - started;
      if (r.code !== 0) throw new Error(`restore (${SERIES_TITLE[series]}) failed:\n${describeResult(r)}`);
      return ms;
    };

    const coldMs = await restore('nugate');
    o.log(`  restore: cold nugate ${(coldMs / 1000).toFixed(2)} s (fills its cache; not counted)`);
    for (const series of SERIES.slice(1)) await restore(series); // first run of each: disk cache and JIT warm-up
    const ms: Record<RestoreSeries, number[]> = { nugate: [], local: [], direct: [], nugateNoAudit: [] };
    let redoLeft = 3;
    let redone = 0;
    for (let i = 0; i < o.runs; i++) {
      const order = SERIES.map((_, k) => SERIES[(k + i) % SERIES.length] as RestoreSeries);
      const round: Partial<Record<RestoreSeries, number>> = {};
      const before = snapshot();
      for (const series of order) round[series] = await restore(series);
      const foreign = foreignCores(before, snapshot());
      const line = SERIES.map((s) => `${s} ${((round[s] ?? 0) / 1000).toFixed(2)} s`).join(', ');
      if (foreign > DISTURBED_CORES && redoLeft > 0) {
        redoLeft--;
        redone++;
        o.log(`  restore round ${i + 1}/${o.runs}: ${line}: disturbed (other processes used ${foreign.toFixed(2)} cores), run again`);
        i--;
        continue;
      }
      for (const s of SERIES) ms[s].push(round[s] ?? Number.NaN);
      o.log(`  restore round ${i + 1}/${o.runs}: ${line}${foreign > DISTURBED_CORES ? ` (other load ${foreign.toFixed(2)} cores)` : ''}`);
    }
    return { dotnetVersion, coldMs, ms, redone };
  } finally {
    unregister();
    await dotnet?.cleanup().catch(() => undefined);
    await nugate?.proc.stop();
    await feed.close();
  }
}
