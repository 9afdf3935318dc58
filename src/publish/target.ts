/**
 * Which upstream receives a publish (design.md §6): `publish.upstream` when set, else the first eligible
 * upstream for the id under packageSourceMapping.
 */
import type { Config, UpstreamConfig } from '../config/schema.ts';
import { badRequest } from '../errors.ts';

function byName(config: Config, name: string): UpstreamConfig | undefined {
  const lower = name.toLowerCase();
  return config.upstreams.find((u) => u.name.toLowerCase() === lower);
}

function hasMapping(config: Config): boolean {
  return Object.values(config.packageSourceMapping ?? {}).some((patterns) => patterns.length > 0);
}

/**
 * Throws a 400 NugateError when no upstream can be chosen. With several upstreams, no mapping and no
 * `publish.upstream`, nugate refuses rather than guess: pushing a private package to the first upstream
 * (often nuget.org) by accident cannot be undone.
 */
export function chooseTarget(config: Config, eligible: (id: string) => string[], id: string): UpstreamConfig {
  if (config.publish.upstream !== undefined) {
    const u = byName(config, config.publish.upstream);
    if (u === undefined) throw badRequest(`publish.upstream "${config.publish.upstream}" names no upstream`);
    return u;
  }
  if (!hasMapping(config) && config.upstreams.length > 1) {
    throw badRequest('nugate has several upstreams and no packageSourceMapping: set publish.upstream to choose where packages go');
  }
  const first = eligible(id)[0];
  if (first === undefined) {
    throw badRequest(`no upstream may hold "${id}" under packageSourceMapping: add a pattern for it or set publish.upstream`);
  }
  const u = byName(config, first);
  if (u === undefined) throw badRequest(`packageSourceMapping names unknown upstream "${first}"`);
  return u;
}
