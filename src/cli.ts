#!/usr/bin/env node
/**
 * The entry point (design.md §7, a contract other tools rely on):
 *   nugate [serve] [--config FILE] [--port N] [--host H] [--offline] [--workers N]
 *   nugate cache stats|prune [--config FILE] [--max-size SIZE] [--older-than DURATION]
 *   nugate config check [--config FILE]
 *   nugate config import NuGet.Config
 *   nugate config schema                  (the JSON Schema of proxy.config.json)
 *   nugate doctor [--config FILE] [--restore] [--package ID[@VERSION]]
 *   nugate prefetch|export|import …  (air gap: src/airgap/commands.ts)
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { loadConfigFile, ConfigError } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { parseDuration, parseSize, formatBytes } from './config/units.ts';
import { createApp } from './app.ts';
import { listen } from './server.ts';
import { createLogger } from './ops/logger.ts';
import { secretValues } from './ops/secrets.ts';
import { createCache } from './cache/index.ts';
import { importNuGetConfig } from './config/import-nuget-config.ts';
import { configJsonSchemaText } from './config/json-schema.ts';
import { superviseWorkers } from './cluster.ts';
import { runDoctor } from './ops/doctor.ts';
import cluster from 'node:cluster';
import { AIRGAP_USAGE, isAirgapCommand, runAirgap } from './airgap/commands.ts';

const USAGE = `usage:
  nugate [serve] [--config FILE] [--port N] [--host H] [--offline] [--workers N]
  nugate cache stats [--config FILE]
  nugate cache prune [--config FILE] [--max-size SIZE] [--older-than DURATION]
  nugate config check [--config FILE]
  nugate config import NuGet.Config
  nugate config schema
  nugate doctor [--config FILE] [--restore] [--package ID[@VERSION]]
${AIRGAP_USAGE}
environment: NUGATE_PORT=N stands for --port N`;

class UsageError extends Error {}

async function loadWithOverrides(values: { config?: string | undefined; port?: string | undefined; host?: string | undefined; offline?: boolean | undefined; workers?: string | undefined }): Promise<Config> {
  const config = await loadConfigFile(values.config ?? 'proxy.config.json');
  // NUGATE_PORT (a container or a systemd unit) stands for --port; the flag wins.
  const portText = values.port ?? (process.env.NUGATE_PORT || undefined);
  if (portText !== undefined) {
    const port = Number(portText);
    const from = values.port !== undefined ? '--port' : 'NUGATE_PORT';
    if (!/^\d+$/.test(portText) || port > 65535) throw new UsageError(`${from}: expected 0-65535, got "${portText}"`);
    config.listen.port = port;
  }
  if (values.host !== undefined) config.listen.host = values.host;
  if (values.offline) config.offline = true;
  if (values.workers !== undefined) {
    const workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError(`--workers: expected 1-64, got "${values.workers}"`);
    config.workers = workers;
  }
  return config;
}

async function serveCommand(config: Config): Promise<void> {
  const log = createLogger(config.log.level, undefined, { secrets: secretValues(config, process.env), format: config.log.format });
  if (config.workers > 1 && cluster.isPrimary) return superviseWorkers(config.workers, log);
  const nugate = await createApp({ config, log });
  const running = await listen(nugate, config.listen.host, config.listen.port);
  log.info({ url: running.url, offline: config.offline, upstreams: config.upstreams.map((u) => u.name), cacheDir: config.cache.dir }, 'nugate listening');
  nugate.services.warm?.started();
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'nugate shutting down');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

async function cacheCommand(sub: string | undefined, config: Config, values: { 'max-size'?: string | undefined; 'older-than'?: string | undefined }): Promise<void> {
  const cache = await createCache({ config, log: createLogger('warn') });
  try {
    if (sub === 'stats') {
      const stats = await cache.stats();
      process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
      return;
    }
    if (sub === 'prune') {
      const opts: { maxSize?: number; olderThan?: number } = {};
      if (values['max-size'] !== undefined) {
        const n = parseSize(values['max-size']);
        if (n === undefined) throw new UsageError(`--max-size: invalid size "${values['max-size']}"`);
        opts.maxSize = n;
      }
      if (values['older-than'] !== undefined) {
        const n = parseDuration(values['older-than']);
        if (n === undefined) throw new UsageError(`--older-than: invalid duration "${values['older-than']}"`);
        opts.olderThan = n;
      }
      const report = await cache.prune(opts);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    throw new UsageError(`unknown cache command "${sub ?? ''}"`);
  } finally {
    await cache.close();
  }
}

/** `nugate doctor`: exit 1 when a check fails (ops/doctor.ts). */
async function doctorCommand(config: Config, values: { restore?: boolean | undefined; package?: string | undefined }): Promise<void> {
  const ok = await runDoctor(config, {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    ...(values.package === undefined ? {} : { restorePackage: values.package }),
    ...(values.restore
      ? {
          // A throwaway nugate on loopback: plain http, no read auth, its own memory store and cache folder, so the
          // restore really goes to the upstreams and leaves the live cache alone.
          restore: async (cacheDir: string) => {
            const { tls: _tls, ...plain } = config.listen;
            const temp: Config = { ...config, listen: { ...plain, host: '127.0.0.1', port: 0 }, workers: 1, auth: { ...config.auth, read: false }, cache: { ...config.cache, dir: cacheDir, store: 'memory' } };
            delete temp.publicUrl;
            const running = await listen(await createApp({ config: temp, log: createLogger('warn') }), '127.0.0.1', 0);
            return { url: running.url, stop: () => running.stop(2000) };
          },
        }
      : {}),
  });
  if (!ok) process.exitCode = 1;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      offline: { type: 'boolean' },
      workers: { type: 'string' },
      'max-size': { type: 'string' },
      'older-than': { type: 'string' },
      'dry-run': { type: 'boolean' },
      concurrency: { type: 'string' },
      out: { type: 'string', short: 'o' },
      since: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      restore: { type: 'boolean' },
      package: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const [command = 'serve', sub, arg] = positionals;
  if (isAirgapCommand(command)) {
    const args = { operands: positionals.slice(1), dryRun: values['dry-run'], concurrency: values.concurrency, out: values.out, since: values.since };
    process.exitCode = await runAirgap(command, await loadWithOverrides(values), args);
    return;
  }
  switch (command) {
    case 'serve':
      return serveCommand(await loadWithOverrides(values));
    case 'cache':
      return cacheCommand(sub, await loadWithOverrides(values), values);
    case 'config':
      if (sub === 'check') {
        const config = await loadWithOverrides(values);
        process.stdout.write(`config OK: ${config.upstreams.length} upstream(s), cache at ${config.cache.dir} (max ${formatBytes(config.cache.maxSize)})\n`);
        return;
      }
      if (sub === 'import') {
        const file = arg;
        if (!file) throw new UsageError('config import needs a NuGet.Config path');
        const imported = importNuGetConfig(await readFile(file, 'utf8'));
        const fragment: Record<string, unknown> = { upstreams: imported.upstreams };
        if (imported.packageSourceMapping) fragment.packageSourceMapping = imported.packageSourceMapping;
        process.stdout.write(`${JSON.stringify(fragment, null, 2)}\n`);
        for (const w of imported.warnings) process.stderr.write(`warning: ${w}\n`);
        for (const e of imported.env) process.stderr.write(`set ${e.name}: ${e.description}\n`);
        return;
      }
      if (sub === 'schema') {
        process.stdout.write(configJsonSchemaText());
        return;
      }
      throw new UsageError(`unknown config command "${sub ?? ''}"`);
    case 'doctor':
      return doctorCommand(await loadWithOverrides(values), values);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`nugate: ${err.message}\n`);
  else if (err instanceof UsageError) process.stderr.write(`nugate: ${err.message}\n${USAGE}\n`);
  else process.stderr.write(`nugate: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
