/**
 * Read authentication (config `auth.read`). The NuGet client only sends credentials in answer to a 401 that
 * carries `WWW-Authenticate: Basic realm="…"`, so an anonymous or wrong request gets exactly that, never a
 * 403 (protocol.md §2.3, §5 items 57–58).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config/schema.ts';

export interface ReadAuthOptions {
  /**
   * Requests that skip read auth. Default: `GET|HEAD /health` and `/ready`, and the publish routes (PUT/DELETE/POST
   * on a path ending in `/package` or `/symbolpackage`, optionally followed by `/{id}/{version}`), which are
   * guarded by API keys instead. Read routes are GET/HEAD only, so this exemption can open no read resource.
   */
  isPublic?: (method: string, path: string) => boolean;
  /**
   * Called for each request answered 401. Read auth runs before the access log, so nothing else records a
   * refused request: this is where it is counted, under one series whatever it asked for.
   */
  onRejected?: (c: Context) => void;
}

const PUBLISH_PATH = /\/(?:package|symbolpackage)(?:\/[^/]+\/[^/]+)?\/?$/;

export function defaultIsPublic(method: string, path: string): boolean {
  // Probes: /health (alive) and /ready (can serve) say nothing a client could use.
  if ((method === 'GET' || method === 'HEAD') && (path === '/health' || path === '/ready')) return true;
  return (method === 'PUT' || method === 'DELETE' || method === 'POST') && PUBLISH_PATH.test(path);
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Constant-time membership: every entry is compared, whatever matched before. */
function anyEqual(digest: Buffer, candidates: readonly Buffer[]): boolean {
  let found = false;
  for (const c of candidates) found = timingSafeEqual(digest, c) || found;
  return found;
}

export interface Credentials {
  user?: { username: string; password: string };
  apiKey?: string;
}

function parseBasic(header: string | undefined): Credentials['user'] {
  // RFC 7617 §2: "Basic" is case-insensitive; user-id and password are split at the first colon.
  const m = /^basic[ \t]+([A-Za-z0-9+/=._~-]+)[ \t]*$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Builds the checker once: digests are decoded at start, so a request only hashes what it sent. */
export function createCredentialCheck(config: Config): (creds: Credentials) => boolean {
  const users = config.auth.users.map((u) => ({ name: sha256(u.username), password: Buffer.from(u.passwordSha256, 'hex') }));
  const keys = config.publish.keys.map((k) => Buffer.from(k.sha256, 'hex'));
  return ({ user, apiKey }) => {
    let ok = false;
    if (apiKey !== undefined && apiKey !== '') ok = anyEqual(sha256(apiKey), keys) || ok;
    if (user !== undefined) {
      const name = sha256(user.username);
      const password = sha256(user.password);
      for (const u of users) ok = (timingSafeEqual(name, u.name) && timingSafeEqual(password, u.password)) || ok;
      // An API key works as a Basic password too, whatever the user name (the client has one secret per source).
      ok = anyEqual(password, keys) || ok;
    }
    return ok;
  };
}

/** Accepted credential headers remembered, so a hit does not hash them again (bounded; memory only). */
const ACCEPTED_MAX = 1000;

/**
 * The same decision as the middleware, from raw header values (the fast hit path, http/fast-hit.ts). Only
 * accepted header values are remembered; a refused one is always checked again.
 */
export function createHeaderCheck(config: Config): (authorization: string | undefined, apiKey: string | undefined) => boolean {
  const check = createCredentialCheck(config);
  const accepted = new Map<string, true>();
  return (authorization, apiKey) => {
    const memo = `${authorization ?? ''}\u0000${apiKey ?? ''}`;
    if (accepted.has(memo)) return true;
    const creds: Credentials = {};
    const user = parseBasic(authorization);
    if (user) creds.user = user;
    if (apiKey !== undefined) creds.apiKey = apiKey;
    if (!check(creds)) return false;
    if (accepted.size >= ACCEPTED_MAX) accepted.clear();
    accepted.set(memo, true);
    return true;
  };
}

/**
 * Hono middleware: when `auth.read` is on, every request outside `isPublic` needs Basic credentials of a
 * configured user, or an API key from `publish.keys` (as X-NuGet-ApiKey or as the Basic password).
 *
 * @example
 * app.use('*', readAuth(config));
 */
export function readAuth(config: Config, options: ReadAuthOptions = {}): MiddlewareHandler {
  const isPublic = options.isPublic ?? defaultIsPublic;
  const check = createCredentialCheck(config);
  const challenge = `Basic realm="${config.auth.realm.replace(/["\\]/g, '\\$&')}"`;
  return async function readAuth(c, next) {
    if (!config.auth.read || isPublic(c.req.method, c.req.path)) return next();
    const creds: Credentials = {};
    const user = parseBasic(c.req.header('authorization'));
    if (user) creds.user = user;
    const apiKey = c.req.header('x-nuget-apikey');
    if (apiKey !== undefined) creds.apiKey = apiKey;
    if (check(creds)) return next();
    options.onRejected?.(c);
    return c.text('Authentication required', 401, { 'WWW-Authenticate': challenge });
  };
}
