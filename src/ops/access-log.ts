/**
 * Records each answered request: one metric observation (labels from the fixed sets in labels.ts) and, at
 * debug level or for a 5xx, one log line. It is mounted after read auth, so a refused request reaches neither
 * here nor a resource; `rejected` counts those under one fixed series instead.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { X_CACHE_STATE, type TaggedResponse } from '../http/respond.ts';
import type { Metrics } from './metrics.ts';
import { resourceLabel } from './labels.ts';

// Paths are client text of any length (up to Node's header limit); a log line needs only enough to recognise it.
const MAX_LOGGED_PATH = 512;
// The NuGet client sends a GUID. Anything else is not worth a log field, and is never echoed.
const SESSION_ID = /^[A-Za-z0-9-]{1,64}$/;

/** The only fields a request log line carries: no header, no query string, so no credential can reach it. */
export interface RequestLogFields {
  method: string;
  path: string;
  status: number;
  cache: string;
  ms: number;
  session?: string;
}

function fieldsOf(c: Context, status: number, cache: string, ms: number): RequestLogFields {
  const fields: RequestLogFields = { method: c.req.method, path: c.req.path.slice(0, MAX_LOGGED_PATH), status, cache, ms };
  const session = c.req.header('x-nuget-session-id');
  if (session !== undefined && SESSION_ID.test(session)) fields.session = session;
  return fields;
}

export interface AccessLog {
  /** Hono middleware for every request that passed read auth. */
  middleware: MiddlewareHandler;
  /** For read auth's `onRejected`: counts and (at debug) logs a refused request. */
  rejected(c: Context): void;
}

/**
 * @example
 * const access = createAccessLog(metrics, log);
 * app.use('*', readAuth(config, { onRejected: access.rejected }));
 * app.use('*', access.middleware);
 */
export function createAccessLog(metrics: Metrics, log: Logger): AccessLog {
  return {
    middleware: async function accessLog(c, next) {
      const started = performance.now();
      await next();
      const seconds = (performance.now() - started) / 1000;
      // Responses built by respond.ts carry their X-Cache state; reading res.headers would cost their fast path.
      const res: TaggedResponse = c.res;
      const cache = res[X_CACHE_STATE] ?? res.headers.get('x-cache') ?? '-';
      const status = res.status;
      metrics.observe(resourceLabel(c.req.path), status, cache, seconds);
      if (status >= 500) log.warn(fieldsOf(c, status, cache, Math.round(seconds * 1000)), 'request');
      else if (log.isLevelEnabled('debug')) log.debug(fieldsOf(c, status, cache, Math.round(seconds * 1000)), 'request');
    },
    rejected(c) {
      metrics.rejected();
      if (log.isLevelEnabled('debug')) log.debug(fieldsOf(c, 401, '-', 0), 'request refused by read auth');
    },
  };
}
