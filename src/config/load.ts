/**
 * Reads and validates the config. A bad config fails at start with one message that names every bad key.
 */
import { readFile } from 'node:fs/promises';
import { resolve, dirname, isAbsolute } from 'node:path';
import { configSchema, type Config } from './schema.ts';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function pathOf(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

/** Validates a parsed config object. `baseDir` anchors a relative cache.dir. */
export function parseConfig(raw: unknown, source = '(inline)', baseDir = process.cwd()): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') return `${pathOf([...i.path])}: unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${pathOf(i.path)}: ${i.message}`;
    });
    throw new ConfigError(source, problems);
  }
  const cfg = result.data;
  if (!isAbsolute(cfg.cache.dir)) cfg.cache.dir = resolve(baseDir, cfg.cache.dir);
  // PEM files are anchored like cache.dir, so a config works from any working directory.
  const tls = cfg.listen.tls;
  if (tls) {
    tls.cert = resolve(baseDir, tls.cert);
    tls.key = resolve(baseDir, tls.key);
    if (tls.ca !== undefined) tls.ca = resolve(baseDir, tls.ca);
  }
  for (const u of cfg.upstreams) if (u.ca !== undefined) u.ca = resolve(baseDir, u.ca);
  return cfg;
}

export async function loadConfigFile(file: string): Promise<Config> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseConfig(raw, path, dirname(path));
}
