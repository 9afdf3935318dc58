/**
 * Turns prefetch INPUTs into requirements: packages.lock.json, obj/project.assets.json, a project file, a solution
 * (.sln/.slnx), Directory.Packages.props, a `.txt` list (`Id@VersionOrRange` a line, `Id` alone = highest stable)
 * or a folder, searched for those (build output and tool folders skipped).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isValidId } from '../nuget/id.ts';
import { InputError, readCentralProps, readProject, solutionProjects } from './msbuild.ts';
import { readAssetsFile, readLockFile } from './restore-files.ts';
import { parseVersionSpec, type Requirement } from './spec.ts';

export { InputError } from './msbuild.ts';

/** Folders a search never enters: build output, VCS and tool state. */
const SKIPPED_DIRS = new Set(['bin', 'obj', 'node_modules', '.git', '.vs', '.idea', 'packages', 'TestResults']);

type Kind = 'lock' | 'assets' | 'project' | 'solution' | 'central' | 'list';

function kindOf(path: string): Kind | undefined {
  const name = basename(path).toLowerCase();
  if (name === 'packages.lock.json') return 'lock';
  if (name === 'project.assets.json') return 'assets';
  if (name === 'directory.packages.props') return 'central';
  if (/\.(cs|fs|vb)proj$/.test(name)) return 'project';
  if (/\.slnx?$/.test(name)) return 'solution';
  if (name.endsWith('.txt')) return 'list';
  return undefined;
}

/** Reads a `.txt` list: `Id@VersionOrRange` or `Id` per line; blank lines and `#` comments ignored. */
export async function readList(path: string): Promise<Requirement[]> {
  const out: Requirement[] = [];
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const at = line.indexOf('@');
    const id = (at < 0 ? line : line.slice(0, at)).trim();
    const version = at < 0 ? undefined : line.slice(at + 1).trim();
    const where = `${path}:${i + 1}`;
    if (!isValidId(id)) throw new InputError(`${where}: "${id}" is not a package id`);
    const spec = parseVersionSpec(version);
    if (spec === undefined) throw new InputError(`${where}: "${version ?? ''}" is not a version, range or floating version`);
    out.push({ id, spec, from: where });
  }
  return out;
}

/** Every input file below a folder. Solutions are left out: the search finds their projects itself. */
async function searchFolder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIPPED_DIRS.has(e.name) && !e.name.startsWith('.')) found.push(...(await searchFolder(path)));
      continue;
    }
    const kind = e.isFile() ? kindOf(path) : undefined;
    if (kind === 'lock' || kind === 'project' || kind === 'central') found.push(path);
  }
  return found;
}

async function readInput(path: string, seen: Set<string>): Promise<Requirement[]> {
  if (seen.has(path)) return [];
  seen.add(path);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new InputError(`${path}: no such file or folder`);
  }
  if (info.isDirectory()) {
    const files = await searchFolder(path);
    if (files.length === 0) throw new InputError(`${path}: no project, lock file or Directory.Packages.props found in this folder`);
    return (await Promise.all(files.map((f) => readInput(f, seen)))).flat();
  }
  switch (kindOf(path)) {
    case 'lock':
      return readLockFile(path);
    case 'assets':
      return readAssetsFile(path);
    case 'project':
      return readProject(path);
    case 'central':
      return readCentralProps(path);
    case 'list':
      return readList(path);
    case 'solution': {
      const projects = await solutionProjects(path);
      return (await Promise.all(projects.map((p) => readInput(p, seen)))).flat();
    }
    default:
      throw new InputError(`${path}: not a prefetch input (packages.lock.json, project.assets.json, a project, a solution, Directory.Packages.props, a .txt list or a folder)`);
  }
}

/** All requirements of the inputs, in input order. */
export async function readInputs(paths: readonly string[]): Promise<Requirement[]> {
  const seen = new Set<string>();
  const out: Requirement[] = [];
  for (const p of paths) out.push(...(await readInput(resolve(p), seen)));
  return out;
}
