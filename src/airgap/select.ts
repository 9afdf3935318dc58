/**
 * What `nugate export` writes: everything held, or a selection. A selection item is an id pattern (`Contoso.*`,
 * `Newtonsoft.Json`, `*`: packageSourceMapping syntax, case-insensitive) or any prefetch INPUT, whose closure is
 * resolved against what the cache holds (offline: no upstream is asked).
 */
import { stat } from 'node:fs/promises';
import type { Config } from '../config/schema.ts';
import { walkClosure, type Problem } from './closure.ts';
import { InputError, readInputs } from './inputs.ts';
import { openLocalFeed } from './local-feed.ts';
import type { CommandIo } from './io.ts';

export interface Selection {
  /** True when an id (any version) is selected. */
  id(lowerId: string): boolean;
  /** True when a package version is selected. */
  pkg(lowerId: string, version: string): boolean;
  /** Required packages the cache does not hold. */
  missing: Problem[];
}

const PATTERN = /^[A-Za-z0-9_.-]*\*?$/;

async function isPath(arg: string): Promise<boolean> {
  return stat(arg).then(
    () => true,
    () => false,
  );
}

export async function resolveSelection(config: Config, items: readonly string[], io: CommandIo, concurrency: number): Promise<Selection> {
  if (items.length === 0) return { id: () => true, pkg: () => true, missing: [] };
  const patterns: string[] = [];
  const inputs: string[] = [];
  for (const item of items) {
    if (await isPath(item)) inputs.push(item);
    else if (PATTERN.test(item) && item !== '') patterns.push(item.toLowerCase());
    else throw new InputError(`${item}: neither an id pattern (such as Contoso.*) nor an existing file or folder`);
  }
  const matches = (id: string): boolean => patterns.some((p) => (p.endsWith('*') ? id.startsWith(p.slice(0, -1)) : id === p));
  const ids = new Set<string>();
  const versions = new Set<string>();
  const missing: Problem[] = [];
  if (inputs.length > 0) {
    const requirements = await readInputs(inputs);
    const feed = await openLocalFeed(config, io.log, { offline: true });
    try {
      const closure = await walkClosure(feed, requirements, { download: false, registrations: false, concurrency });
      for (const p of closure.packages) {
        const lower = p.id.toLowerCase();
        if (p.state === 'cached') {
          ids.add(lower);
          versions.add(`${lower}/${p.version}`);
        } else {
          missing.push({ what: `${p.id} ${p.version}`, reason: 'not in the cache (run nugate prefetch first)' });
        }
      }
      missing.push(...closure.failures);
    } finally {
      await feed.close();
    }
  }
  return {
    id: (id) => matches(id) || ids.has(id),
    pkg: (id, version) => matches(id) || versions.has(`${id}/${version}`),
    missing,
  };
}
