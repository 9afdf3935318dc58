/**
 * Credentials nugate sends to an upstream, and the rules that keep them there. Secrets come from environment
 * variables named in the config (schema.ts `upstreams[].auth` / `headers`); the config file never holds one.
 */
import type { UpstreamConfig } from '../config/schema.ts';

const REDACTED = '[redacted]';

/** Always secret, whatever the config says: client and upstream credentials (protocol.md §2.3–2.4). */
const ALWAYS_SECRET = ['authorization', 'proxy-authorization', 'x-nuget-apikey', 'cookie', 'set-cookie'];

// RFC 9110 §5.1 (field-name = token) and §5.5 (field-value: no CR, LF or NUL).
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function readEnv(upstream: string, env: NodeJS.ProcessEnv, name: string, role: string, allowEmpty = false): string {
  const value = env[name];
  if (value === undefined || (!allowEmpty && value === '')) {
    throw new Error(`upstream "${upstream}": environment variable ${name} (${role}) is not set`);
  }
  // Never echo the value: it is a secret.
  if (!FIELD_VALUE.test(value)) {
    throw new Error(`upstream "${upstream}": environment variable ${name} (${role}) holds characters not allowed in an HTTP header`);
  }
  return value;
}

/**
 * The headers that authenticate nugate to one upstream: Basic, Bearer or an API-key header from `auth`, plus
 * the custom `headers`. Keys are lowercased. Throws an Error naming the missing environment variable, so a
 * bad deployment fails at start rather than on the first 401.
 *
 * @example
 * upstreamCredentialHeaders({ ...u, auth: { type: 'bearer', tokenEnv: 'FEED_TOKEN' } }, process.env)
 * // { authorization: 'Bearer …' }
 */
export function upstreamCredentialHeaders(upstream: UpstreamConfig, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  const auth = upstream.auth;
  if (auth?.type === 'basic') {
    // Azure Artifacts and others accept any (even empty) user name with a token as the password.
    const user = readEnv(upstream.name, env, auth.usernameEnv, 'auth.usernameEnv', true);
    const password = readEnv(upstream.name, env, auth.passwordEnv, 'auth.passwordEnv');
    if (user.includes(':')) throw new Error(`upstream "${upstream.name}": the user name in ${auth.usernameEnv} must not contain ":" (RFC 7617)`);
    out.authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
  } else if (auth?.type === 'bearer') {
    out.authorization = `Bearer ${readEnv(upstream.name, env, auth.tokenEnv, 'auth.tokenEnv')}`;
  } else if (auth?.type === 'apiKey') {
    if (!TOKEN.test(auth.header)) throw new Error(`upstream "${upstream.name}": auth.header ${JSON.stringify(auth.header)} is not a valid header name`);
    out[auth.header.toLowerCase()] = readEnv(upstream.name, env, auth.tokenEnv, 'auth.tokenEnv');
  }
  for (const [name, { env: envName }] of Object.entries(upstream.headers)) {
    if (!TOKEN.test(name)) throw new Error(`upstream "${upstream.name}": headers key ${JSON.stringify(name)} is not a valid header name`);
    const key = name.toLowerCase();
    if (key in out) throw new Error(`upstream "${upstream.name}": headers.${name} would overwrite the header set by auth`);
    out[key] = readEnv(upstream.name, env, envName, `headers.${name}.env`, true);
  }
  return out;
}

/** Names (lowercase) of the headers the config marks as carrying an upstream secret, for redactHeaders. */
export function credentialHeaderNames(upstreams: readonly UpstreamConfig[]): string[] {
  const names = new Set<string>();
  for (const u of upstreams) {
    if (u.auth?.type === 'apiKey') names.add(u.auth.header.toLowerCase());
    for (const name of Object.keys(u.headers)) names.add(name.toLowerCase());
  }
  return [...names];
}

function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    return parsed.origin;
  } catch {
    return undefined;
  }
}

/**
 * True when a request to `requestUrl` may carry this upstream's credentials: only on the upstream's own
 * origins, i.e. its service index origin and the resource origins the caller passes (full URLs or origins).
 * Call it for every hop: a redirect to another host (a signed blob URL, say) must go without them, as .NET
 * does (protocol.md §2.3, NuGet/Home#2521). Scheme, host and port must all match, so an https→http downgrade
 * on the same host is refused too.
 */
export function mayCarryCredentials(upstream: { url: string }, requestUrl: string, allowedOrigins: string[]): boolean {
  const target = originOf(requestUrl);
  if (target === undefined) return false;
  if (target === originOf(upstream.url)) return true;
  return allowedOrigins.some((o) => originOf(o) === target);
}

/**
 * A copy of `headers` fit for a log line: Authorization, X-NuGet-ApiKey, cookies and every header named in
 * `extraSecretNames` (see credentialHeaderNames) become "[redacted]". Name matching is case-insensitive.
 */
export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
  extraSecretNames: readonly string[] = [],
): Record<string, string | string[] | undefined> {
  const secret = new Set([...ALWAYS_SECRET, ...extraSecretNames.map((n) => n.toLowerCase())]);
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = value !== undefined && secret.has(name.toLowerCase()) ? REDACTED : value;
  }
  return out;
}
