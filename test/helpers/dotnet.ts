/**
 * Runs the real .NET SDK in a sealed temp directory, so that a test sees only the package sources it names.
 *
 * Isolation, all of it needed:
 * - `NuGet.Config` in the temp dir with `<clear/>` and only the given sources. Restore and search get
 *   `--configfile`; `dotnet add package` cannot take one, so the project lives under the temp dir and NuGet's
 *   directory walk finds this file first (its `<clear/>` drops any source a file higher up would add).
 * - HOME and DOTNET_CLI_HOME point into the temp dir: NuGet's user-level config (`~/.nuget/NuGet/NuGet.Config`),
 *   credential-provider plugins and the SDK's first-run sentinels are never read from the real home.
 * - NUGET_PACKAGES, NUGET_HTTP_CACHE_PATH, NUGET_PLUGINS_CACHE_PATH inside the temp dir; every other inherited
 *   `NUGET_*`/`NuGet*` variable is dropped.
 * - Empty Directory.Build.props/.targets and Directory.Packages.props stop MSBuild's upward search for them.
 * - No build servers (MSBuild node reuse, the MSBuild server, the compiler server), so nothing outlives a test.
 * - `allowInsecureConnections="true"` on every http source: NuGet 6.12+ (.NET 9 SDK and later) fails an http
 *   source with NU1302 otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DotnetSource {
  name: string;
  url: string;
  username?: string;
  password?: string;
}

export interface DotnetResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The command line, for assertion messages. */
  command: string;
}

export interface RunOptions {
  cwd?: string;
  /** Kills the whole process group after this long. Default 240 s: a cold restore on 2 cores takes 30–60 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Runs dotnet on this CPU core only (`taskset`; the benchmark's one-core client). */
  core?: number;
}

export interface PackageRef {
  id: string;
  version?: string;
}

export interface IsolatedDotnet {
  /** The temp root; everything below is deleted by cleanup(). */
  dir: string;
  /** The NuGet.Config with `<clear/>` and only the sources under test. */
  configFile: string;
  /** NUGET_PACKAGES: the global packages folder restores write to. */
  packagesDir: string;
  /** NUGET_HTTP_CACHE_PATH. */
  httpCacheDir: string;
  /** The environment every run gets (inherited env minus NuGet variables, plus the isolation variables). */
  env: Record<string, string>;
  /** Runs `dotnet <args>` (cwd defaults to `dir`). Never throws on a non-zero exit; check `code`. */
  run(args: string[], opts?: RunOptions): Promise<DotnetResult>;
  /** Writes `<dir>/<name>/<name>.csproj` and returns the project directory. */
  writeProject(name: string, packageRefs: PackageRef[], targetFramework?: string): Promise<string>;
  cleanup(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 240_000;

let dotnetChecked: string | undefined;

/**
 * Returns `dotnet --version`, or throws a loud, explicit error when the SDK is missing or broken.
 * Tests that need the SDK must fail, never skip, when it is not there.
 */
export function requireDotnet(): string {
  if (dotnetChecked !== undefined) return dotnetChecked;
  const r = spawnSync('dotnet', ['--version'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1', DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1' },
  });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? 'The .NET SDK is required for the e2e tests but `dotnet` is not on PATH. Install the .NET 10 SDK (or put it on PATH); these tests never skip.'
        : `\`dotnet --version\` could not run: ${String(r.error)}`,
    );
  }
  if (r.status !== 0) {
    throw new Error(`\`dotnet --version\` exited ${String(r.status)}: ${r.stderr}${r.stdout}`);
  }
  dotnetChecked = r.stdout.trim();
  return dotnetChecked;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** NuGet.Config with `<clear/>`, the given sources, their credentials and a few settings that keep runs deterministic. */
export function nugetConfigXml(sources: readonly DotnetSource[]): string {
  const adds = sources
    .map((s) => {
      const insecure = s.url.startsWith('http://') ? ' allowInsecureConnections="true"' : '';
      return `    <add key="${xmlEscape(s.name)}" value="${xmlEscape(s.url)}" protocolVersion="3"${insecure} />`;
    })
    .join('\n');
  const creds = sources
    .filter((s) => s.username !== undefined || s.password !== undefined)
    .map((s) => {
      // Element names are the source key with spaces encoded as _x0020_ (NuGet's XmlConvert-style encoding).
      const element = s.name.replace(/ /g, '_x0020_');
      if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(element)) throw new Error(`source name ${JSON.stringify(s.name)} cannot carry credentials in NuGet.Config`);
      return [
        `    <${element}>`,
        `      <add key="Username" value="${xmlEscape(s.username ?? '')}" />`,
        `      <add key="ClearTextPassword" value="${xmlEscape(s.password ?? '')}" />`,
        `    </${element}>`,
      ].join('\n');
    })
    .join('\n');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<configuration>',
    '  <packageSources>',
    '    <clear />',
    adds,
    '  </packageSources>',
    '  <disabledPackageSources>',
    '    <clear />',
    '  </disabledPackageSources>',
    '  <auditSources>',
    '    <clear />',
    '  </auditSources>',
    creds === '' ? '' : `  <packageSourceCredentials>\n${creds}\n  </packageSourceCredentials>`,
    '  <packageSourceMapping>',
    '    <clear />',
    '  </packageSourceMapping>',
    '</configuration>',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

/** Inherited variables that would let user- or machine-level NuGet state leak into a run. */
function isNugetVariable(name: string): boolean {
  const n = name.toUpperCase();
  return n.startsWith('NUGET') || n === 'RESTORECONFIGFILE' || n === 'RESTORESOURCES' || n === 'RESTOREPACKAGESPATH';
}

function baseEnv(dir: string, packagesDir: string, httpCacheDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !isNugetVariable(k)) env[k] = v;
  }
  const home = join(dir, 'home');
  return {
    ...env,
    HOME: home,
    DOTNET_CLI_HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    NUGET_PACKAGES: packagesDir,
    NUGET_HTTP_CACHE_PATH: httpCacheDir,
    NUGET_PLUGINS_CACHE_PATH: join(dir, 'nuget-plugins-cache'),
    // Revocation status cannot be fetched without internet; offline mode makes it a warning (NU3018 → not fatal).
    NUGET_CERT_REVOCATION_MODE: 'offline',
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    DOTNET_NOLOGO: '1',
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
    DOTNET_GENERATE_ASPNET_CERTIFICATE: 'false',
    DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE: 'true',
    DOTNET_ADD_GLOBAL_TOOLS_TO_PATH: 'false',
    DOTNET_CLI_USE_MSBUILD_SERVER: '0',
    MSBUILDDISABLENODEREUSE: '1',
    UseSharedCompilation: 'false',
    // Plain, uncoloured, English output that tests can grep.
    DOTNET_CLI_UI_LANGUAGE: 'en',
    TERM: 'dumb',
    NO_COLOR: '1',
  };
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** A test runner that dies must not leave dotnet process groups (restore, MSBuild nodes) behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Runs a command in its own process group and kills the group on timeout. */
export function runProcess(command: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<DotnetResult> {
  const display = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    installExitHook();
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pgid = child.pid;
    if (pgid !== undefined) liveGroups.add(pgid);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      if (pgid !== undefined) liveGroups.delete(pgid);
      const code = (err as NodeJS.ErrnoException).code;
      reject(code === 'ENOENT' ? new Error(`\`${command}\` is not on PATH (needed for: ${display})`) : err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (pgid !== undefined) liveGroups.delete(pgid);
      if (timedOut) stderr += `\n[killed after ${opts.timeoutMs} ms timeout]`;
      resolve({ code: code ?? (signal === null ? 1 : 128 + 9), stdout, stderr, command: display });
    });
  });
}

export async function makeIsolatedDotnet(opts: { sources: DotnetSource[] }): Promise<IsolatedDotnet> {
  requireDotnet();
  const dir = await mkdtemp(join(tmpdir(), 'nugate-dotnet-'));
  const packagesDir = join(dir, 'packages');
  const httpCacheDir = join(dir, 'http-cache');
  const configFile = join(dir, 'NuGet.Config');
  await Promise.all([
    mkdir(packagesDir, { recursive: true }),
    mkdir(httpCacheDir, { recursive: true }),
    mkdir(join(dir, 'home'), { recursive: true }),
  ]);
  await Promise.all([
    writeFile(configFile, nugetConfigXml(opts.sources)),
    writeFile(join(dir, 'Directory.Build.props'), '<Project />\n'),
    writeFile(join(dir, 'Directory.Build.targets'), '<Project />\n'),
    writeFile(join(dir, 'Directory.Packages.props'), '<Project />\n'),
  ]);
  const env = baseEnv(dir, packagesDir, httpCacheDir);

  return {
    dir,
    configFile,
    packagesDir,
    httpCacheDir,
    env,
    run(args, o = {}) {
      const run = { cwd: o.cwd ?? dir, env: { ...env, ...o.env }, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS };
      return o.core === undefined ? runProcess('dotnet', args, run) : runProcess('taskset', ['-c', String(o.core), 'dotnet', ...args], run);
    },
    async writeProject(name, packageRefs, targetFramework = 'net10.0') {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`project name ${JSON.stringify(name)} must be a plain file name`);
      const projectDir = join(dir, name);
      await mkdir(projectDir, { recursive: true });
      const refs = packageRefs
        .map((r) => `    <PackageReference Include="${xmlEscape(r.id)}"${r.version === undefined ? '' : ` Version="${xmlEscape(r.version)}"`} />`)
        .join('\n');
      const csproj = [
        '<Project Sdk="Microsoft.NET.Sdk">',
        '  <PropertyGroup>',
        `    <TargetFramework>${xmlEscape(targetFramework)}</TargetFramework>`,
        '    <Nullable>enable</Nullable>',
        '    <ImplicitUsings>enable</ImplicitUsings>',
        '    <IsPackable>false</IsPackable>',
        '  </PropertyGroup>',
        refs === '' ? '' : `  <ItemGroup>\n${refs}\n  </ItemGroup>`,
        '</Project>',
        '',
      ]
        .filter((l) => l !== '')
        .join('\n');
      await writeFile(join(projectDir, `${name}.csproj`), csproj);
      return projectDir;
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/**
 * `dotnet nuget verify --all <nupkg>` in a throwaway isolated environment.
 *
 * Offline on Linux: the SDK checks author and repository signatures against its bundled code-signing and
 * timestamping root stores; only the revocation check needs the network, and NUGET_CERT_REVOCATION_MODE=offline
 * turns "revocation unknown" into a warning instead of an error.
 */
export async function verifySignatures(nupkgPath: string, opts: { timeoutMs?: number } = {}): Promise<DotnetResult> {
  const iso = await makeIsolatedDotnet({ sources: [] });
  try {
    return await iso.run(['nuget', 'verify', '--all', nupkgPath, '--configfile', iso.configFile, '-v', 'n'], { timeoutMs: opts.timeoutMs ?? 120_000 });
  } finally {
    await iso.cleanup();
  }
}

/** A one-line summary of a failed command for assertion messages: the command, exit code and the tail of its output. */
export function describeResult(r: DotnetResult, tailChars = 6000): string {
  const out = `${r.stdout}\n${r.stderr}`.trim();
  return `\`${r.command}\` exited ${r.code}\n${out.length > tailChars ? `…${out.slice(-tailChars)}` : out}`;
}

/** NuGet warning/error codes (NU1301, NU1603, …) that appear in the output, de-duplicated. */
export function nugetCodes(r: DotnetResult): string[] {
  return [...new Set(`${r.stdout}\n${r.stderr}`.match(/\bNU\d{4}\b/g) ?? [])].sort();
}

/**
 * URLs NuGet reports fetching in its verbose HTTP log (`GET`, `OK`, `NotFound`, `CACHE` lines, printed at
 * `-v n` for restore and always for `dotnet add package`). Lets a test prove which hosts the client talked to.
 */
export function requestedUrls(r: DotnetResult): string[] {
  const out: string[] = [];
  for (const m of `${r.stdout}\n${r.stderr}`.matchAll(/\b(?:GET|OK|NotFound|CACHE)\s+(https?:\/\/[^\s'"]+)/g)) {
    if (m[1] !== undefined) out.push(m[1]);
  }
  return out;
}

/** Restore problems that must never appear when a feed works: source failures, http-source rejection, audit failure. */
export const FORBIDDEN_NUGET_CODES = ['NU1301', 'NU1302', 'NU1801', 'NU1803', 'NU1900'] as const;
