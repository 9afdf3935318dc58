/**
 * Who may publish, decided from the request headers alone, before a byte of the body is read or spooled
 * (issue 8: a keyless push used to be spooled to disk in full). Refusals close the connection rather than
 * drain an upload that may be hundreds of megabytes (errors.ts `closing`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config/schema.ts';
import { readAuth } from '../http/read-auth.ts';
import { apiKeyRefused, apiKeyRequired, closing } from './errors.ts';
import { createKeyCheck, type PublishKey } from './keys.ts';
import type { PublishEnv } from './reply.ts';

export interface Admitted {
  /** The matching nugate key (`mapped` mode); undefined in `passthrough` mode. */
  key: PublishKey | undefined;
  /** The key the client sent. */
  raw: string;
}

/**
 * With `auth.read` on, publish routes need read credentials too (a configured user, or one of nugate's keys as
 * X-NuGet-ApiKey or Basic password): app.ts exempts them from its own read auth because an API key usually
 * guards them, but in `passthrough` mode nugate cannot judge that key, so an anonymous client could otherwise
 * upload to nugate's disk. The answer is read auth's own 401 with its Basic challenge (the NuGet client then
 * retries with its source credentials), plus `Connection: close`.
 *
 * @example
 * for (const guard of readGuard(config)) app.use('*', guard);
 */
export function readGuard(config: Config): MiddlewareHandler<PublishEnv>[] {
  if (!config.auth.read) return [];
  return [
    async function closeWhenUnauthenticated(c, next) {
      await next();
      if (c.res.status === 401 && c.res.headers.has('www-authenticate')) c.res.headers.set('connection', 'close');
    },
    readAuth(config, { isPublic: () => false }),
  ];
}

/**
 * The API key rules, as nuget.org applies them (errors.ts): `passthrough` needs a key (the upstream judges
 * it); `mapped` needs one of nugate's own keys. Throws a closing NugateError (401 no key, 403 unknown key).
 */
export function createKeyGate(config: Config): (c: Context<PublishEnv>) => Admitted {
  const mapped = config.publish.keyMode === 'mapped';
  const checkKey = createKeyCheck(config.publish.keys);
  return function keyGate(c) {
    const raw = c.req.header('x-nuget-apikey');
    if (raw === undefined || raw.trim() === '') throw closing(apiKeyRequired());
    if (!mapped) return { key: undefined, raw };
    const key = checkKey(raw);
    if (key === undefined) throw closing(apiKeyRefused());
    return { key, raw };
  };
}
