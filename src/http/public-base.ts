/**
 * The public root URL that every URL nugate writes is built from (design.md §2): `publicUrl` when configured,
 * otherwise the request's own Host, with X-Forwarded-Proto/Host/Port/Prefix honoured only when trustProxy is on.
 */
import type { Context } from 'hono';
import { badRequest } from '../errors.ts';

/** Host[:port], IPv6 literals in brackets; rejects anything that could smuggle a path or a second URL. */
const HOST_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const PREFIX_RE = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*\/?$/;

export interface PublicBaseOptions {
  publicUrl?: string | undefined;
  trustProxy: boolean;
}

function first(value: string | undefined): string | undefined {
  const v = value?.split(',')[0]?.trim();
  return v === '' ? undefined : v;
}

/** Returns the public root, always ending with '/'. */
export function publicRoot(c: Context, opts: PublicBaseOptions): string {
  if (opts.publicUrl) return opts.publicUrl.endsWith('/') ? opts.publicUrl : `${opts.publicUrl}/`;
  const url = new URL(c.req.url);
  let proto = url.protocol.replace(':', '');
  let host = c.req.header('host') ?? url.host;
  let prefix = '';
  if (opts.trustProxy) {
    const fProto = first(c.req.header('x-forwarded-proto'));
    const fHost = first(c.req.header('x-forwarded-host'));
    const fPort = first(c.req.header('x-forwarded-port'));
    const fPrefix = first(c.req.header('x-forwarded-prefix'));
    if (fProto === 'http' || fProto === 'https') proto = fProto;
    if (fHost) host = fHost;
    if (fPort && /^\d{1,5}$/.test(fPort) && !/:\d+$/.test(host)) {
      const isDefault = (proto === 'https' && fPort === '443') || (proto === 'http' && fPort === '80');
      if (!isDefault) host = `${host}:${fPort}`;
    }
    if (fPrefix) {
      if (!PREFIX_RE.test(fPrefix)) throw badRequest('invalid X-Forwarded-Prefix');
      prefix = fPrefix.replace(/\/+$/, '');
    }
  }
  if (!HOST_RE.test(host)) throw badRequest('invalid Host header');
  return `${proto}://${host.toLowerCase()}${prefix}/`;
}
