/**
 * The air-gap subcommands as the CLI runs them (design.md §7, issue 11):
 *   nugate prefetch [--config FILE] [--dry-run] [--concurrency N] INPUT...
 *   nugate export [--config FILE] --out BUNDLE [--since OLD_BUNDLE] [SELECTION...]
 *   nugate import [--config FILE] BUNDLE
 * Resolves to the exit code: 0 done, 1 something required failed (named on stderr), 2 bad usage or input.
 */
import { pino } from 'pino';
import type { Config } from '../config/schema.ts';
import { createLogger } from '../ops/logger.ts';
import { secretValues } from '../ops/secrets.ts';
import { BundleError } from './bundle.ts';
import { exportBundle } from './export.ts';
import { importBundle } from './import.ts';
import { InputError } from './inputs.ts';
import type { CommandIo } from './io.ts';
import { prefetch } from './prefetch.ts';

export const AIRGAP_COMMANDS = ['prefetch', 'export', 'import'] as const;
export type AirgapCommand = (typeof AIRGAP_COMMANDS)[number];

export const AIRGAP_USAGE = `  nugate prefetch [--config FILE] [--dry-run] [--concurrency N] INPUT...
  nugate export [--config FILE] --out BUNDLE [--since OLD_BUNDLE] [SELECTION...]
  nugate import [--config FILE] BUNDLE`;

export interface AirgapArgs {
  operands: string[];
  dryRun?: boolean | undefined;
  concurrency?: string | undefined;
  out?: string | undefined;
  since?: string | undefined;
}

export function isAirgapCommand(command: string): command is AirgapCommand {
  return (AIRGAP_COMMANDS as readonly string[]).includes(command);
}

class UsageProblem extends Error {}

function concurrencyOf(text: string | undefined): number {
  if (text === undefined) return 8;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageProblem(`--concurrency: expected 1-64, got "${text}"`);
  return n;
}

async function run(command: AirgapCommand, config: Config, args: AirgapArgs, io: CommandIo): Promise<number> {
  const concurrency = concurrencyOf(args.concurrency);
  switch (command) {
    case 'prefetch':
      if (args.operands.length === 0) throw new UsageProblem('prefetch needs at least one INPUT');
      return prefetch(config, { inputs: args.operands, dryRun: args.dryRun === true, concurrency }, io);
    case 'export':
      if (args.out === undefined) throw new UsageProblem('export needs --out BUNDLE');
      return exportBundle(config, { out: args.out, selection: args.operands, concurrency, ...(args.since === undefined ? {} : { since: args.since }) }, io);
    case 'import': {
      const [bundle, ...extra] = args.operands;
      if (bundle === undefined || extra.length > 0) throw new UsageProblem('import needs exactly one BUNDLE');
      return importBundle(config, bundle, io);
    }
  }
}

export async function runAirgap(command: AirgapCommand, config: Config, args: AirgapArgs): Promise<number> {
  // nugate's own log goes to stderr at warn and above: stdout carries the plan and the summary only.
  const level = ['fatal', 'error', 'silent'].includes(config.log.level) ? config.log.level : 'warn';
  const log = createLogger(level, pino.destination(2), { secrets: secretValues(config, process.env) });
  const io: CommandIo = { out: process.stdout, err: process.stderr, log };
  try {
    return await run(command, config, args, io);
  } catch (err) {
    if (err instanceof UsageProblem) {
      io.err.write(`nugate: ${err.message}\nusage:\n${AIRGAP_USAGE}\n`);
      return 2;
    }
    if (err instanceof InputError) {
      io.err.write(`nugate ${command}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof BundleError) {
      io.err.write(`nugate ${command}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
