/**
 * One configured upstream feed: where its resources live (from its own service index), how its URLs map onto
 * nugate's, which URLs we may fetch from it (the SSRF allow-list), and its breaker.
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { UpstreamConfig, TtlConfig } from '../config/schema.ts';
import type { DocCache, LoadResult, StoredDoc } from '../cache/types.ts';
import { parseServiceIndex, type UpstreamResources } from '../nuget/service-index.ts';
import { compileRewrite, rewriteJson, type RewriteRule, type RewriteTable } from '../nuget/rewrite.ts';
import { Breaker } from './breaker.ts';
import { upstreamCredentialHeaders } from './credentials.ts';
import { upstreamRequest, readBody, discard, toUpstreamError, type UpstreamResponse, type UpstreamRequest } from './http.ts';
import { CircuitOpenError, UpstreamError, NugateError } from '../errors.ts';
import { FEED_SENTINEL } from '../feed-urls.ts';
import type { Clock } from '../cache/clock.ts';

/** Upstream JSON documents above this size are refused (nuget.org's biggest registration pages are a few MB). */
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const JSON_REQUEST_HEADERS = { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' } as const;

/** How requests reach an upstream: undici over HTTP, or an in-process source such as a folder of packages. */
export type Transport = (req: UpstreamRequest) => Promise<UpstreamResponse>;

export interface UpstreamDeps {
  dispatcher: Dispatcher;
  /** Overrides HTTP for this upstream (folder upstreams). */
  transport?: Transport;
  docs: DocCache;
  clock: Clock;
  log: Logger;
  offline: boolean;
  env: NodeJS.ProcessEnv;
}

export interface Discovered {
  resources: UpstreamResources;
  table: RewriteTable;
  /** Slot name → upstream base, for URLs we proxy raw under {feed}/raw/{upstream}/{slot}/. */
  rawBases: Map<string, string>;
}

export class Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly breaker: Breaker;
  readonly ttl: Partial<TtlConfig>;
  private readonly deps: UpstreamDeps;
  private readonly credentials: Record<string, string>;
  private discovered: { body: string; value: Discovered; credentialOrigins: string[] } | undefined;
  /** Before discovery only the service index's own origin may receive credentials. */
  private readonly indexOrigins: string[];

  constructor(config: UpstreamConfig, deps: UpstreamDeps) {
    this.name = config.name;
    this.config = config;
    this.deps = deps;
    this.ttl = config.ttl ?? {};
    this.breaker = new Breaker({ maxFails: config.maxFails, failTimeout: config.failTimeout, clock: deps.clock });
    this.credentials = upstreamCredentialHeaders(config, deps.env);
    this.indexOrigins = [new URL(config.url).origin];
  }

  /** The upstream's resources, read from its service index (cached with ttl.serviceIndex, stale-if-error). */
  async discover(): Promise<Discovered> {
    const res = await this.deps.docs.get(`si:${this.name}`, 'serviceIndex', this.name, (stale) => this.loadJson(this.config.url, stale));
    if (res.doc.status !== 200) {
      throw new UpstreamError(this.name, `service index ${this.config.url} answered 404`);
    }
    if (this.discovered?.body === res.doc.body) return this.discovered.value;
    let resources: UpstreamResources;
    try {
      resources = parseServiceIndex(JSON.parse(res.doc.body));
    } catch (err) {
      throw new UpstreamError(this.name, `invalid service index: ${(err as Error).message}`, { cause: err });
    }
    const value = buildDiscovered(this.name, resources);
    // Origins that may receive this upstream's credentials: its service index and its resources. Worked out once
    // per service index, not on every request.
    const credentialOrigins = [...new Set([...this.indexOrigins, ...resources.bases.map((b) => new URL(b).origin)])];
    this.discovered = { body: res.doc.body, value, credentialOrigins };
    return value;
  }

  /** True when `url` lies under one of this upstream's resource bases (or is its service index). */
  allows(url: string, resources: UpstreamResources): boolean {
    if (url === this.config.url) return true;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
    // Bases are kept exactly as the upstream advertised them; compare both the string we were given and its
    // WHATWG-normalized form, so neither a stray ':443' nor an upper-case host turns a valid URL away.
    const normalized = parsed.href;
    return resources.bases.some((b) => {
      const bare = b.replace(/\/$/, '');
      return url.startsWith(b) || normalized.startsWith(b) || url === bare || normalized === bare;
    });
  }

  /**
   * Sends a request through the breaker. Every 5xx or transport failure counts against the upstream; any other
   * answer (404 included) proves it is alive.
   */
  async request(url: string, opts: { headers?: Record<string, string>; method?: 'GET' | 'HEAD'; signal?: AbortSignal; timeout?: number } = {}): Promise<UpstreamResponse> {
    if (this.deps.offline) throw new NugateError('OFFLINE', 404, 'nugate is offline and this resource is not cached');
    if (!this.breaker.allow()) throw new CircuitOpenError(this.name);
    const resources = url === this.config.url ? undefined : this.discovered?.value.resources;
    if (url !== this.config.url && (resources === undefined || !this.allows(url, resources))) {
      // Defence in depth: resource handlers only build URLs from discovered bases.
      throw new NugateError('FORBIDDEN_UPSTREAM_URL', 400, `refusing to fetch a URL outside upstream "${this.name}"`);
    }
    let res: UpstreamResponse;
    try {
      const send: Transport = this.deps.transport ?? ((r) => upstreamRequest(this.deps.dispatcher, r));
      res = await send({
        upstream: this.name,
        url,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        credentials: this.credentials,
        credentialOrigins: resources === undefined ? this.indexOrigins : (this.discovered?.credentialOrigins ?? this.indexOrigins),
        timeout: opts.timeout ?? this.config.timeout,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      // A client that went away is not the upstream's fault.
      if (!opts.signal?.aborted) this.breaker.failure();
      throw toUpstreamError(this.name, err);
    }
    if (res.status >= 500) {
      this.breaker.failure();
      discard(res);
      throw new UpstreamError(this.name, `${url} answered ${res.status}`, { status: 502 });
    }
    this.breaker.success();
    return res;
  }

  /**
   * A DocLoader body: conditional GET of a JSON document. 404 → notFound; 304 → notModified; 200 → body checked
   * to be JSON. 429, other 4xx and invalid bodies throw (never cached).
   */
  async loadJson(url: string, stale: StoredDoc | undefined, transform?: (json: unknown) => unknown | Promise<unknown>, timeout?: number): Promise<LoadResult> {
    const headers: Record<string, string> = { ...JSON_REQUEST_HEADERS };
    if (stale?.status === 200 && stale.validators.etag) headers['if-none-match'] = stale.validators.etag;
    if (stale?.status === 200 && stale.validators.lastModified) headers['if-modified-since'] = stale.validators.lastModified;
    const res = await this.request(url, timeout === undefined ? { headers } : { headers, timeout });
    if (res.status === 404 || res.status === 410) {
      discard(res);
      return { kind: 'notFound' };
    }
    if (res.status === 304 && stale?.status === 200) {
      discard(res);
      return { kind: 'notModified', validators: validatorsOf(res) };
    }
    if (res.status !== 200) {
      discard(res);
      throw new UpstreamError(this.name, `${url} answered ${res.status}`, { status: 502 });
    }
    const json = await this.parseJson(url, res);
    const out = transform ? await transform(json) : json;
    return { kind: 'ok', body: JSON.stringify(out), validators: validatorsOf(res) };
  }

  /** GET of a JSON document that must exist (e.g. a registration page the index points to). */
  async fetchJson(url: string): Promise<unknown> {
    const res = await this.request(url, { headers: { ...JSON_REQUEST_HEADERS } });
    if (res.status !== 200) {
      discard(res);
      throw new UpstreamError(this.name, `${url} answered ${res.status}`, { status: 502 });
    }
    return this.parseJson(url, res);
  }

  private async parseJson(url: string, res: UpstreamResponse): Promise<unknown> {
    const raw = await readBody(this.name, res, MAX_JSON_BYTES);
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch (err) {
      // A 200 with an HTML login page or a truncated document must not be cached (protocol.md §2.2).
      throw new UpstreamError(this.name, `${url} did not return valid JSON`, { cause: err });
    }
  }

  /** Loads a JSON document and rewrites every upstream URL in it to the canonical feed sentinel. */
  async loadRewritten(url: string, stale: StoredDoc | undefined, before?: (json: unknown) => unknown | Promise<unknown>, timeout?: number): Promise<LoadResult> {
    const { table } = await this.discover();
    return this.loadJson(url, stale, async (json) => rewriteJson(before ? await before(json) : json, table), timeout);
  }
}

function validatorsOf(res: UpstreamResponse): { etag?: string; lastModified?: string } {
  const v: { etag?: string; lastModified?: string } = {};
  if (res.headers.etag) v.etag = res.headers.etag;
  if (res.headers['last-modified']) v.lastModified = res.headers['last-modified'];
  return v;
}

function slotOf(base: string): string {
  return createHash('sha256').update(base).digest('hex').slice(0, 10);
}

/**
 * Maps the upstream's resource bases onto the canonical feed layout (feed-urls.ts). Flat container and
 * registration hives map onto nugate's own resources; every other base (catalog, vulnerability pages, ...)
 * onto a raw slot that nugate proxies as-is, so no upstream URL ever leaks.
 */
export function buildDiscovered(name: string, resources: UpstreamResources): Discovered {
  const rules: RewriteRule[] = [];
  const rawBases = new Map<string, string>();
  const named = new Set<string>();
  const add = (from: string | undefined, to: string): void => {
    if (!from || named.has(from)) return;
    named.add(from);
    rules.push({ from, to });
  };
  add(resources.packageBaseAddress, `${FEED_SENTINEL}flatcontainer/`);
  add(resources.registrationSemVer2, `${FEED_SENTINEL}registration/`);
  add(resources.registrationSemVer1, `${FEED_SENTINEL}registration-semver1/`);
  for (const s of resources.search) add(s, `${FEED_SENTINEL}search`);
  for (const s of resources.autocomplete) add(s, `${FEED_SENTINEL}autocomplete`);
  for (const base of resources.bases) {
    if (named.has(base)) continue;
    const slot = slotOf(base);
    rawBases.set(slot, base);
    add(base, `${FEED_SENTINEL}raw/${encodeURIComponent(name)}/${slot}/`);
  }
  return { resources, table: compileRewrite(rules), rawBases };
}
