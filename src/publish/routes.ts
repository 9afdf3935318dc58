/**
 * Publish routes (design.md §6, protocol.md §2.4 and §5 items 46–56): push (PUT), unlist (DELETE) and relist
 * (POST), forwarded to one upstream's PackagePublish or SymbolPackagePublish resource, or, when the target is a
 * folder upstream, stored in that folder by its publisher (local.ts).
 *
 * Mount one instance per kind, e.g. `app.route('/v3/package', createPublishRoutes(deps, 'package'))`,
 * `app.route('/v3/symbolpackage', createPublishRoutes(deps, 'symbols'))`, and the package one again at
 * `/api/v2/package`.
 */
import { rm } from 'node:fs/promises';
import { Hono, type Context } from 'hono';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { Config, UpstreamConfig } from '../config/schema.ts';
import { badRequest, isNugateError, notFound, NugateError, UpstreamError } from '../errors.ts';
import type { FolderPublisher } from '../sources/folder/publish.ts';
import type { PublishTarget } from '../sources/source.ts';
import { isValidId } from '../nuget/id.ts';
import { InvalidPackageError } from '../nuget/nuspec.ts';
import { readManifestFromFile } from '../nuget/nupkg.ts';
import { parseVersion } from '../nuget/version.ts';
import { credentialHeaderNames, redactHeaders } from '../upstream/credentials.ts';
import { createKeyGate, readGuard, type Admitted } from './admission.ts';
import { drainRequest } from './drain.ts';
import { apiKeyOutOfScope, bodyStalled, closing, misconfigured, packageTooLarge } from './errors.ts';
import { forward, type ForwardResponse } from './forward.ts';
import { keyAllowsId } from './keys.ts';
import { folderNeedsMappedKeys, offlineRefusal, publishLocally } from './local.ts';
import { multipartFromFile } from './multipart.ts';
import { outboundHeaders, upstreamApiKey } from './outbound.ts';
import { relay } from './relay.ts';
import { errorReasonPhrase, reply, type PublishEnv } from './reply.ts';
import { scrub } from './scrub.ts';
import { spoolFirstPart, type SpooledFile } from './spool.ts';
import { chooseTarget } from './target.ts';
import { itemUrl, pushUrl } from './urls.ts';

export type PublishKind = 'package' | 'symbols';

export interface PublishDeps {
  config: Config;
  /**
   * Where a publish to this upstream goes: its PackagePublish (kind 'package') or SymbolPackagePublish
   * ('symbols') URL, with the upstream's credentials valid for that URL (Source.publishTarget). Throws a
   * NugateError (404 no such upstream, 501 no such resource). Credentials are sent in `mapped` key mode only.
   */
  target(upstream: string, kind: PublishKind): Promise<PublishTarget>;
  /** The publisher of a folder upstream, which stores packages itself; undefined for an HTTP upstream. */
  local?(upstream: string): FolderPublisher | undefined;
  /** Eligible upstreams for an id by packageSourceMapping, in priority order (all upstreams when unmapped). */
  eligible(id: string): string[];
  /** Evict every cached resource of this id (flat container, registration, search, negative entries). */
  evict(id: string): Promise<void>;
  dispatcher: Dispatcher;
  log: Logger;
  tmpDir: string;
  env?: NodeJS.ProcessEnv;
}

/** The NuGet client gives a push 5 minutes (PushRunner); a slow upstream gets no less from us. */
const MIN_PUBLISH_TIMEOUT = 5 * 60_000;
/**
 * How much of a body refused after spooling began (too large, malformed) we read before answering (drain.ts).
 */
const MIN_DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 30_000;
/**
 * Refusals decided from the headers (keys, configuration, offline) are answered at once, and the upload still in
 * flight is read and discarded for a moment (nginx's lingering close), never spooled: closing on unread data makes
 * the kernel reset the connection, and a client still writing may never see the answer. Past this, the socket goes.
 */
const LINGER = { maxBytes: 4 * 1024 * 1024, maxMs: 2_000 };

type Op = 'push' | 'unlist' | 'relist';

interface HttpTarget {
  upstream: UpstreamConfig;
  local?: undefined;
  /** What nugate sends as X-NuGet-ApiKey (undefined: none). */
  apiKey: string | undefined;
}

/** The headers nugate sends to the endpoint of an HTTP target, with its URL. */
interface Endpoint {
  url: string;
  credentials: Readonly<Record<string, string>>;
  /** The upstream's own connections (proxy, CA); the shared publish dispatcher when the target has none. */
  dispatcher: Dispatcher;
}

/** A folder upstream: its publisher stores the package, no key goes anywhere. */
interface LocalTarget {
  upstream: UpstreamConfig;
  local: FolderPublisher;
}

type Target = HttpTarget | LocalTarget;

/** Problems every push would hit, said once at start instead of only in a client's error text. */
function warnAboutConfig(config: Config, env: NodeJS.ProcessEnv, log: Logger, isFolder: (name: string) => boolean): void {
  const mapping = Object.values(config.packageSourceMapping ?? {}).some((p) => p.length > 0);
  if (config.publish.upstream === undefined && !mapping && config.upstreams.length > 1) {
    log.warn('publish is enabled with several upstreams, no packageSourceMapping and no publish.upstream: every push will be refused');
  }
  const targets = config.publish.upstream === undefined ? config.upstreams : config.upstreams.filter((u) => u.name.toLowerCase() === config.publish.upstream?.toLowerCase());
  if (config.publish.keyMode !== 'mapped') {
    // Only when the operator chose the folder as the target: a folder upstream that merely serves is no mistake.
    if (config.publish.upstream !== undefined && targets.some((u) => isFolder(u.name))) {
      log.warn({ upstream: config.publish.upstream }, 'publish.upstream is a folder but publish.keyMode is not "mapped": every push will be refused');
    }
    return;
  }
  for (const u of targets) {
    // A folder upstream takes no key of its own.
    if (isFolder(u.name)) continue;
    if (u.apiKeyEnv === undefined) log.warn({ upstream: u.name }, 'publish.keyMode is "mapped" but this upstream has no apiKeyEnv: pushes to it will fail');
    else if (!env[u.apiKeyEnv]) log.warn({ upstream: u.name, apiKeyEnv: u.apiKeyEnv }, 'publish.keyMode is "mapped" but the apiKeyEnv variable is not set');
  }
}


export function createPublishRoutes(deps: PublishDeps, kind: PublishKind): Hono<PublishEnv> {
  const { config } = deps;
  const env = deps.env ?? process.env;
  const log = deps.log.child({ component: 'publish', kind });
  const mapped = config.publish.keyMode === 'mapped';
  const enabled = config.publish.enabled && (kind === 'package' || config.publish.symbols);
  const keyGate = createKeyGate(config);
  const secretHeaderNames = credentialHeaderNames(config.upstreams);
  const drainBudget = { maxBytes: Math.max(config.publish.maxSize, MIN_DRAIN_BYTES), maxMs: DRAIN_MS };
  /** The folder publisher for a package push to `name`; folders keep no symbols (see target()). */
  const folderOf = (name: string): FolderPublisher | undefined => (kind === 'package' ? deps.local?.(name) : undefined);
  if (enabled && kind === 'package') warnAboutConfig(config, env, log, (name) => folderOf(name) !== undefined);
  const app = new Hono<PublishEnv>();
  app.use('*', errorReasonPhrase());
  for (const guard of readGuard(config)) app.use('*', guard);

  /**
   * Refusals that do not depend on the package, decided before its body is read: publishing off, offline with
   * no folder that could take it (nothing may reach a network upstream offline), or a fixed folder target
   * without mapped keys.
   */
  function refuseUpFront(): void {
    if (!enabled) throw notFound(kind === 'symbols' ? 'Symbol package publishing is disabled' : 'Publishing is disabled');
    const fixed = config.publish.upstream;
    if (fixed !== undefined) {
      const folder = folderOf(fixed) !== undefined;
      if (config.offline && !folder) throw offlineRefusal(fixed);
      if (folder && !mapped) throw folderNeedsMappedKeys(fixed);
      return;
    }
    if (config.offline && !config.upstreams.some((u) => folderOf(u.name) !== undefined)) throw offlineRefusal();
  }

  /** Everything decided from the headers alone; for a push, the refused body lingers briefly, then the socket goes. */
  function admit(c: Context<PublishEnv>, withBody: boolean): Admitted {
    try {
      refuseUpFront();
      return keyGate(c);
    } catch (err) {
      if (withBody && isNugateError(err)) {
        const incoming = c.env.incoming;
        // No `Connection: close`: Node would close right after the answer, on unread data. The connection stays
        // usable when the body ends within the linger budget, and is destroyed otherwise.
        void drainRequest(incoming, LINGER).then((ended) => {
          if (!ended) incoming.socket?.destroy();
        });
        throw err;
      }
      throw err;
    }
  }

  /** A refusal once the body is being read: read the rest within a budget so the client gets the answer, else close. */
  async function refuseAfterReading(c: Context<PublishEnv>, err: NugateError): Promise<never> {
    const drained = await drainRequest(c.env.incoming, drainBudget);
    throw drained ? err : closing(err);
  }

  /** Picks the upstream and the key it gets; throws NugateError (400/403/404/500/501) when that is not possible. */
  function target(id: string, client: Admitted): Target {
    if (client.key !== undefined && !keyAllowsId(client.key, id)) throw apiKeyOutOfScope(id);
    const upstream = chooseTarget(config, deps.eligible, id);
    if (kind === 'symbols' && deps.local?.(upstream.name) !== undefined) {
      throw new NugateError('NO_PUBLISH', 501, `upstream "${upstream.name}" is a folder and does not accept symbol packages`);
    }
    const local = folderOf(upstream.name);
    if (local !== undefined) {
      if (!mapped) throw folderNeedsMappedKeys(upstream.name);
      return { upstream, local };
    }
    if (config.offline) throw offlineRefusal(upstream.name);
    return { upstream, apiKey: mapped ? upstreamApiKey(upstream, env) : client.raw };
  }

  /** The endpoint of an HTTP target; the upstream's credentials only in `mapped` mode (outbound.ts). */
  async function endpoint(t: HttpTarget): Promise<Endpoint> {
    const found = await deps.target(t.upstream.name, kind);
    if (found.kind !== 'http') throw misconfigured(t.upstream.name, 'its publish target is not an HTTP endpoint');
    return { url: found.url, credentials: mapped ? found.credentials : {}, dispatcher: found.dispatcher ?? deps.dispatcher };
  }

  /** After a 2xx: every cached resource of the id goes, so the next read sees the change (protocol.md §5 item 54). */
  async function evictAfter(op: Op, id: string): Promise<void> {
    try {
      await deps.evict(id);
    } catch (err) {
      log.warn({ op, id, err: (err as Error)?.message }, 'cache eviction after publish failed');
    }
  }

  /** Stores, unlists or relists in a folder upstream; answers like nuget.org (local.ts). */
  async function sendLocal(c: Context<PublishEnv>, op: Op, meta: { id: string; version: string }, t: LocalTarget, file?: SpooledFile): Promise<Response> {
    const started = Date.now();
    const outcome = await publishLocally(t.local, op, meta, file?.path);
    if (outcome.status >= 200 && outcome.status < 300) await evictAfter(op, meta.id);
    log.info({ op, upstream: t.upstream.name, folder: true, id: meta.id, version: meta.version, status: outcome.status, ms: Date.now() - started }, `publish ${op}`);
    return reply(c, outcome.status, outcome.reason, outcome.status < 300 ? '' : outcome.reason);
  }

  /**
   * Errors leave as NugateError for app.onError. A bad package becomes a 400 without the temp path; a 5xx of
   * ours is logged here with its detail (which the client's text leaves out).
   */
  function asPublishError(op: Op, err: unknown, tmpPath?: string): unknown {
    if (err instanceof InvalidPackageError) {
      return badRequest(`Invalid package: ${tmpPath ? err.message.split(tmpPath).join('package') : err.message}`);
    }
    if (isNugateError(err) && err.status >= 500) {
      log.error({ op, err: err.message, detail: err.cause instanceof Error ? err.cause.message : undefined }, 'publish failed');
    }
    return err;
  }

  /** Sends one request upstream, evicts the id after a 2xx, logs without secrets, relays the answer. */
  async function send(
    c: Context<PublishEnv>,
    op: Op,
    meta: { id: string; version: string },
    t: HttpTarget,
    to: Endpoint,
    request: { url: string; method: 'PUT' | 'DELETE' | 'POST'; file?: SpooledFile },
  ): Promise<Response> {
    const headers = outboundHeaders({ apiKey: t.apiKey, clientHeader: (n) => c.req.header(n), credentials: to.credentials });
    const multipart = request.file ? multipartFromFile(request.file.path, request.file.size) : undefined;
    if (multipart) {
      headers['content-type'] = multipart.contentType;
      headers['content-length'] = String(multipart.contentLength);
    }
    const started = Date.now();
    const entry = { op, upstream: t.upstream.name, id: meta.id, version: meta.version, headers: redactHeaders(headers, secretHeaderNames) };
    const secrets = [t.apiKey, c.req.header('x-nuget-apikey'), ...Object.values(to.credentials)];
    let res: ForwardResponse;
    try {
      res = await forward(to.dispatcher, {
        url: request.url,
        method: request.method,
        headers,
        ...(multipart ? { body: multipart.body } : {}),
        timeout: Math.max(t.upstream.timeout, MIN_PUBLISH_TIMEOUT),
      });
    } catch (err) {
      log.warn({ ...entry, ms: Date.now() - started, err: scrub((err as Error)?.message ?? String(err), secrets) }, 'publish upstream unreachable');
      // 502 lets the client retry the whole push; nugate never replays a consumed body itself.
      throw new UpstreamError(t.upstream.name, `did not answer the ${op}`, { cause: err });
    }
    if (res.status >= 200 && res.status < 300) await evictAfter(op, meta.id);
    log.info({ ...entry, status: res.status, ms: Date.now() - started }, `publish ${op}`);
    const hosts = [new URL(to.url).host, new URL(to.url).hostname, new URL(t.upstream.url).host, new URL(t.upstream.url).hostname];
    return relay(c, res, { upstream: t.upstream.name, hosts, secrets });
  }

  // `/*` answers both `{mount}` and `{mount}/` (the client appends a slash; protocol.md §5 item 46);
  // deeper paths are not ours.
  app.put('/*', async function push(c) {
    const base = c.req.routePath.replace(/\/\*$/, '');
    if (c.req.path !== base && c.req.path !== `${base}/`) throw closing(notFound());
    const client = admit(c, true);

    const spooled = await spoolFirstPart(c.env.incoming, { dir: deps.tmpDir, maxSize: config.publish.maxSize, idleTimeout: config.publish.idleTimeout }).catch((err: unknown) => {
      // Only local trouble (temp dir not writable…) gets here; the body is unread, so close afterwards.
      log.error({ op: 'push', err: (err as Error)?.message }, 'spooling the push failed');
      throw closing(new NugateError('PUBLISH_SPOOL', 500, 'Internal error'));
    });
    switch (spooled.kind) {
      case 'tooLarge':
        return refuseAfterReading(c, packageTooLarge(config.publish.maxSize));
      case 'noFile':
        return refuseAfterReading(c, badRequest('The request has no package file part'));
      case 'badBody':
        // The parser may stop before the body ends (a malformed header, a foreign content type).
        return refuseAfterReading(c, badRequest(spooled.message));
      case 'stalled':
        log.info({ op: 'push', idleTimeout: config.publish.idleTimeout }, 'push body stalled; cut off');
        throw bodyStalled(config.publish.idleTimeout);
      case 'aborted':
        throw closing(badRequest('Upload aborted'));
      case 'ioError':
        log.error({ op: 'push', err: spooled.message }, 'spooling the push failed');
        throw closing(new NugateError('PUBLISH_SPOOL', 500, 'Internal error'));
    }
    const file = spooled.file;
    try {
      const { nuspec } = await readManifestFromFile(file.path);
      if (!isValidId(nuspec.id)) throw badRequest(`Invalid package id "${nuspec.id}"`);
      if (parseVersion(nuspec.version) === undefined) throw badRequest(`Invalid package version "${nuspec.version}"`);
      const t = target(nuspec.id, client);
      if (t.local !== undefined) return await sendLocal(c, 'push', nuspec, t, file);
      const to = await endpoint(t);
      return await send(c, 'push', nuspec, t, to, { url: pushUrl(to.url), method: 'PUT', file });
    } catch (err) {
      throw asPublishError('push', err, file.path);
    } finally {
      await rm(file.path, { force: true });
    }
  });

  // Unlist and relist take the id and version exactly as typed (protocol.md §2.4), so the raw,
  // still-encoded path segments go upstream; the decoded ones are only validated.
  app.on(['DELETE', 'POST'], ['/:id/:version', '/:id/:version/'], async function unlistOrRelist(c) {
    const op: Op = c.req.method === 'DELETE' ? 'unlist' : 'relist';
    const client = admit(c, false);
    const id = c.req.param('id');
    const version = c.req.param('version');
    if (!isValidId(id)) throw badRequest(`Invalid package id "${id}"`);
    if (parseVersion(version) === undefined) throw badRequest(`Invalid package version "${version}"`);
    const segments = c.req.path.replace(/\/$/, '').split('/');
    const rawVersion = segments[segments.length - 1] ?? version;
    const rawId = segments[segments.length - 2] ?? id;
    try {
      const t = target(id, client);
      if (t.local !== undefined) return await sendLocal(c, op, { id, version }, t);
      const to = await endpoint(t);
      return await send(c, op, { id, version }, t, to, { url: itemUrl(to.url, rawId, rawVersion), method: c.req.method === 'DELETE' ? 'DELETE' : 'POST' });
    } catch (err) {
      throw asPublishError(op, err);
    }
  });

  return app;
}
