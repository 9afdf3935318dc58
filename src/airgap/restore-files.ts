/**
 * What a restore already resolved: `packages.lock.json` (dependencies per target framework, `resolved` version) and
 * `obj/project.assets.json` (`libraries` of type package, keyed `Id/Version`). Both name the whole closure, exactly.
 */
import { readFile } from 'node:fs/promises';
import { exactSpec, type Requirement } from './spec.ts';
import { InputError } from './msbuild.ts';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new InputError(`${path}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function exact(id: string, version: string, from: string): Requirement {
  const spec = exactSpec(version);
  if (spec === undefined) throw new InputError(`${from}: ${id} has an invalid version "${version}"`);
  return { id, spec, from };
}

export async function readLockFile(path: string): Promise<Requirement[]> {
  const doc = await readJson(path);
  const frameworks = isRecord(doc) ? doc.dependencies : undefined;
  if (!isRecord(frameworks)) throw new InputError(`${path}: not a packages.lock.json (no "dependencies")`);
  const out: Requirement[] = [];
  for (const deps of Object.values(frameworks)) {
    if (!isRecord(deps)) continue;
    for (const [id, dep] of Object.entries(deps)) {
      // Project references are lock entries too ("type": "Project"); they are not packages.
      if (!isRecord(dep) || dep.type === 'Project' || typeof dep.resolved !== 'string') continue;
      out.push(exact(id, dep.resolved, path));
    }
  }
  return out;
}

export async function readAssetsFile(path: string): Promise<Requirement[]> {
  const doc = await readJson(path);
  const libraries = isRecord(doc) ? doc.libraries : undefined;
  if (!isRecord(libraries)) throw new InputError(`${path}: not a project.assets.json (no "libraries")`);
  const out: Requirement[] = [];
  for (const [key, lib] of Object.entries(libraries)) {
    if (!isRecord(lib) || lib.type !== 'package') continue;
    const slash = key.indexOf('/');
    if (slash <= 0) continue;
    out.push(exact(key.slice(0, slash), key.slice(slash + 1), path));
  }
  return out;
}
