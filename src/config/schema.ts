/**
 * The one schema for proxy.config.json. Defaults live here and nowhere else; durations and sizes are
 * parsed into numbers (ms / bytes) at load, so the rest of the code never sees "5m".
 */
import { z } from 'zod';
import { parseDuration, parseSize } from './units.ts';

const duration = (fallback: string | number) =>
  z
    .union([z.number(), z.string()])
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use ms, or "30s", "5m", "1h", "1d")` });
        return z.NEVER;
      }
      return ms;
    });

const size = (fallback: string | number) =>
  z
    .union([z.number(), z.string()])
    .default(fallback)
    .transform((v, ctx) => {
      const bytes = parseSize(v);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: `invalid size ${JSON.stringify(v)} (use bytes, or "512KB", "250MB", "10GB")` });
        return z.NEVER;
      }
      return bytes;
    });

/** Name of an environment variable that holds a secret. Secrets never live in the config file itself. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const upstreamAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('basic'), usernameEnv: envName, passwordEnv: envName }).strict(),
  z.object({ type: z.literal('bearer'), tokenEnv: envName }).strict(),
  z.object({ type: z.literal('apiKey'), header: z.string().default('X-NuGet-ApiKey'), tokenEnv: envName }).strict(),
]);

const ttl = z
  .object({
    metadata: duration('5m'),
    search: duration('1m'),
    notFound: duration('1m'),
    serviceIndex: duration('1h'),
  })
  .strict();

const ttlOverride = z
  .object({
    metadata: duration('5m').optional(),
    search: duration('1m').optional(),
    notFound: duration('1m').optional(),
    serviceIndex: duration('1h').optional(),
  })
  .strict();

export const upstreamSchema = z
  .object({
    /** Short name used in logs, headers, per-upstream views and packageSourceMapping. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    /** The upstream's V3 service index URL, or file:///path for a folder of .nupkg files served as a feed. */
    url: z
      .url({ protocol: /^(https?|file)$/ })
      // Credentials in a URL end up in logs, error texts and process listings: they belong in `auth`.
      .refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), 'must not contain user-info (user:password@); use "auth" with environment variables'),
    /** Total time budget for one upstream JSON request, headers and body together. */
    timeout: duration('30s'),
    /**
     * Longest pause between two chunks of a body (a package download has no total deadline, only this one:
     * a 250 MB package on a slow link legitimately takes minutes).
     */
    idleTimeout: duration('20s'),
    /**
     * Origins (scheme://host[:port]) redirects may lead to, besides the upstream's own. JSON documents only follow
     * redirects inside the upstream's origins plus these; package files may go anywhere that is not a local,
     * link-local or metadata address unless this list is given, and then only to these origins.
     */
    redirectOrigins: z.array(z.url({ protocol: /^https?$/ }).transform((u) => new URL(u).origin)).optional(),
    /** Time budget for search/autocomplete fan-out to this upstream. */
    searchTimeout: duration('5s'),
    /** Breaker: this many failures within failTimeout open the circuit. */
    maxFails: z.number().int().min(1).default(5),
    failTimeout: duration('30s'),
    auth: upstreamAuth.optional(),
    /** Extra headers sent to this upstream only; values are read from the named environment variables. */
    headers: z.record(z.string(), z.object({ env: envName }).strict()).default({}),
    /** Environment variable holding the API key nugate sends when it publishes to this upstream in `mapped` mode. */
    apiKeyEnv: envName.optional(),
    /** Per-upstream cache TTL overrides. */
    ttl: ttlOverride.optional(),
    /**
     * Outbound proxy for this upstream (http://[user:password@]host:port), overriding HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
     * Its credentials are sent to the proxy only and never logged.
     */
    proxy: z.url({ protocol: /^https?$/ }).optional(),
    /** PEM file of CA certificates trusted for this upstream, besides the system ones and NODE_EXTRA_CA_CERTS (relative to the config file). */
    ca: z.string().min(1).optional(),
    /**
     * Most connections open to one upstream origin at a time. 16: the NuGet client itself peaked at 34 against one
     * source, shared by nugate's many clients; beyond a few dozen a feed's accept rate stalls bursts (issue 9).
     */
    connections: z.number().int().min(1).max(256).default(16),
  })
  .strict();

const clientKey = z
  .object({
    name: z.string().min(1),
    /** Hex SHA-256 of the key. The key itself never lives in the config. */
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a hex SHA-256'),
    /** Id patterns (NuGet packageSourceMapping syntax) this key may publish. Absent = any id. */
    patterns: z.array(z.string().min(1)).optional(),
  })
  .strict();

const readUser = z
  .object({
    username: z.string().min(1),
    /** Hex SHA-256 of the password (or API key used as password). */
    passwordSha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a hex SHA-256'),
  })
  .strict();

export const configSchema = z
  .object({
    /** The JSON Schema editors check the file against (config/proxy.config.schema.json); nugate ignores it. */
    $schema: z.string().optional(),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(5000),
        /** Serve HTTPS directly: PEM file paths (relative to the config file), `ca` the optional chain sent after the certificate. */
        tls: z.object({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional() }).strict().optional(),
      })
      .strict()
      .prefault({}),
    /** Public base URL of nugate, e.g. https://nuget.example.com. Derived from the request when absent. */
    publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Worker processes (node:cluster) sharing the port and the cache directory. 1 = a single process. Each
     * worker has its own memory tier, breakers and metrics; the disk cache and a Redis store are shared.
     */
    workers: z.number().int().min(1).max(64).default(1),
    /** Trust X-Forwarded-Proto/Host/Port/Prefix from a reverse proxy in front of nugate. */
    trustProxy: z.boolean().default(false),
    /** Never contact an upstream: serve what is cached, 404 for the rest. */
    offline: z.boolean().default(false),
    upstreams: z.array(upstreamSchema).min(1, 'at least one upstream is required'),
    cache: z
      .object({
        dir: z.string().min(1).default('.nugate-cache'),
        /** Metadata store: "file" (embedded, persisted under cache.dir), "memory" (this process only) or a redis:// URL. */
        store: z.string().default('file'),
        maxSize: size('20GB'),
        /** Memory for ready-to-send bodies (JSON and hot packages). */
        hotMaxSize: size('256MB'),
        /** Largest single package kept in memory. */
        hotMaxEntrySize: size('16MB'),
        ttl: ttl.prefault({}),
        /**
         * After the TTL a document is revalidated before it is answered; an upstream that fails or takes longer
         * than this gets the stale copy served while the revalidation finishes in the background.
         */
        revalidateTimeout: duration('2s'),
        /** Cap on the metadata tier (JSON documents and negative entries); least recently stored go first. */
        maxMetadataSize: size('1GB'),
        /**
         * X-NuGet-Warning on answers served from a stale copy because an upstream failed: "never" (default: the
         * client would print one warning per package, and -warnaserror restores would fail), once per
         * X-NuGet-Session-Id, or always.
         */
        staleWarning: z.enum(['never', 'oncePerSession', 'always']).default('never'),
      })
      .strict()
      .prefault({}),
    /** Bounds on what an upstream may send (decoded bytes): a hostile or broken upstream costs an error, never memory. */
    limits: z
      .object({
        /** Largest JSON document (decoded). */
        jsonSize: size('32MB'),
        /** All pages of one registration together (decoded). */
        registrationSize: size('64MB'),
        /** Most pages fetched for one registration index. */
        registrationPages: z.number().int().min(1).max(10_000).default(1000),
        /** Largest package file (decoded); nuget.org accepts up to 250 MB. */
        packageSize: size('1GB'),
      })
      .strict()
      .prefault({}),
    /**
     * Dependency-aware warming: when a client gets a package, nugate fetches in the background what the client's
     * next level will ask for (dependencies' version lists and the versions NuGet will pick). Never offline.
     */
    warm: z
      .object({
        enabled: z.boolean().default(true),
        /** Warm-up requests in flight at once, across all clients. */
        concurrency: z.number().int().min(1).max(64).default(8),
      })
      .strict()
      .prefault({}),
    /** NuGet packageSourceMapping: upstream name -> id patterns ("Contoso.*", "Exact.Id", "*"). */
    packageSourceMapping: z.record(z.string(), z.array(z.string().min(1)).min(1)).optional(),
    publish: z
      .object({
        enabled: z.boolean().default(true),
        /** Target upstream. When absent, chosen by id through packageSourceMapping. */
        upstream: z.string().optional(),
        maxSize: size('250MB'),
        /** passthrough: the client's key goes to the target upstream. mapped: checked here, replaced by the upstream's key. */
        keyMode: z.enum(['passthrough', 'mapped']).default('passthrough'),
        keys: z.array(clientKey).default([]),
        /** Advertise SymbolPackagePublish and forward .snupkg pushes. */
        symbols: z.boolean().default(true),
        /** A push whose body pauses longer than this is cut off (408) and its temp file removed. */
        idleTimeout: duration('30s'),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        /** Require credentials (Basic, or X-NuGet-ApiKey) on read requests. */
        read: z.boolean().default(false),
        users: z.array(readUser).default([]),
        realm: z.string().default('nugate'),
      })
      .strict()
      .prefault({}),
    /** What to answer when nothing is cached and no upstream could answer (design.md §4). */
    unavailable: z
      .object({
        status: z.union([z.literal(503), z.literal(502), z.literal(404)]).default(503),
        retryAfter: z.number().int().min(0).max(60).default(5),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** "json" (one object per line, for collectors) or "pretty" (one readable line, for humans). */
        format: z.enum(['json', 'pretty']).default('json'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.upstreams.forEach((u, i) => {
      const lower = u.name.toLowerCase();
      if (names.has(lower)) ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'name'], message: `duplicate upstream name "${u.name}"` });
      names.add(lower);
    });
    for (const key of Object.keys(cfg.packageSourceMapping ?? {})) {
      if (!names.has(key.toLowerCase())) {
        ctx.addIssue({ code: 'custom', path: ['packageSourceMapping', key], message: `no upstream named "${key}"` });
      }
    }
    if (cfg.publish.upstream !== undefined && !names.has(cfg.publish.upstream.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['publish', 'upstream'], message: `no upstream named "${cfg.publish.upstream}"` });
    }
    if (cfg.auth.read && cfg.auth.users.length === 0 && cfg.publish.keys.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'users'], message: 'auth.read is on but no users (or publish.keys) can authenticate' });
    }
    if (cfg.publish.keyMode === 'mapped' && cfg.publish.keys.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['publish', 'keys'], message: 'keyMode "mapped" needs at least one key' });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type TtlConfig = Config['cache']['ttl'];
