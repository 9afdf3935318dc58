/**
 * `nugate prefetch [--dry-run] [--concurrency N] INPUT...`: fills the cache with the closure of the inputs plus what
 * later clients ask for (version lists, registrations, vulnerability data). Resumable: what is held is not
 * downloaded again. Exit 0 only when every required package is in the cache; each failure is named.
 */
import type { Config } from '../config/schema.ts';
import { formatBytes } from '../config/units.ts';
import { walkClosure, type ClosureResult, type Problem } from './closure.ts';
import { readInputs } from './inputs.ts';
import { openLocalFeed } from './local-feed.ts';
import { createProgress } from './progress.ts';
import type { CommandIo } from './io.ts';

export interface PrefetchOptions {
  inputs: readonly string[];
  dryRun: boolean;
  concurrency: number;
}

function reportProblems(io: CommandIo, label: string, problems: readonly Problem[]): void {
  for (const p of problems) io.err.write(`${label}: ${p.what}: ${p.reason}\n`);
}

export function summaryLine(result: ClosureResult, dryRun: boolean): string {
  const count = (state: string): number => result.packages.filter((p) => p.state === state).length;
  const bytes = result.packages.reduce((n, p) => n + p.bytes, 0);
  const failed = result.failures.length;
  if (dryRun) return `prefetch (dry run): ${result.packages.length} packages, ${count('planned')} to download, ${count('cached')} already cached, ${failed} failed`;
  return `prefetch: ${result.packages.length} packages, ${count('new')} new, ${count('cached')} already cached, ${formatBytes(bytes)} downloaded, ${failed} failed`;
}

/** Runs the command; resolves to the process exit code. */
export async function prefetch(config: Config, opts: PrefetchOptions, io: CommandIo): Promise<number> {
  const requirements = await readInputs(opts.inputs);
  const feed = await openLocalFeed(config, io.log, { offline: false });
  const progress = createProgress('prefetch', { stream: io.err });
  let result: ClosureResult;
  try {
    // The service index first: a client's first request, and nothing else resolves without it.
    await feed.serviceIndex().catch((err: unknown) => io.err.write(`prefetch: service index: ${err instanceof Error ? err.message : String(err)}\n`));
    result = await walkClosure(feed, requirements, { download: !opts.dryRun, registrations: !opts.dryRun, concurrency: opts.concurrency, progress });
    if (!opts.dryRun) {
      try {
        await feed.vulnerabilities();
      } catch (err) {
        result.warnings.push({ what: 'vulnerability data', reason: err instanceof Error ? err.message : String(err) });
      }
    }
  } finally {
    progress.stop();
    await feed.close();
  }
  if (opts.dryRun) {
    for (const p of result.packages) io.out.write(`  ${p.id} ${p.version}${p.state === 'cached' ? ' (cached)' : p.state === 'failed' ? ' (failed)' : ''}\n`);
  }
  reportProblems(io, 'warning', result.warnings);
  reportProblems(io, 'failed', result.failures);
  io.out.write(`${summaryLine(result, opts.dryRun)}\n`);
  return result.failures.length > 0 ? 1 : 0;
}
