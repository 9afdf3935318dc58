/**
 * The public root URL that every URL nugate writes is built from (design.md §2): `publicUrl` when configured,
 * otherwise the request's own Host, with X-Forwarded-Proto/Host/Port/Prefix honoured only when trustProxy is on.
 */
import type { Context, MiddlewareHandler } from 'hono';
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

/** scheme://authority of an absolute URL, without parsing it (the request URL may not parse: see validRequestUrl). */
const AUTHORITY_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/;

/** True when `proto://host/` is a URL: HOST_RE alone lets through `xn--a` (bad punycode), `[:]` and port 65536. */
function isUrlHost(proto: string, host: string): boolean {
  try {
    new URL(`${proto}://${host}/`);
    return true;
  } catch {
    return false;
  }
}

/** Returns the public root, always ending with '/'. Throws a 400 NugateError for a Host nothing could use. */
export function publicRoot(c: Context, opts: PublicBaseOptions): string {
  if (opts.publicUrl) return opts.publicUrl.endsWith('/') ? opts.publicUrl : `${opts.publicUrl}/`;
  const reqUrl = c.req.url;
  let proto = reqUrl.startsWith('https:') ? 'https' : 'http';
  let host = c.req.header('host') ?? AUTHORITY_RE.exec(reqUrl)?.[1] ?? '';
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
  if (!HOST_RE.test(host) || !isUrlHost(proto, host)) throw badRequest('invalid Host header');
  return `${proto}://${host.toLowerCase()}${prefix}/`;
}

// A host name the URL parser takes as it is: no punycode label (which may not decode) and a last label that is
// not a number (which makes it an IPv4 address, which may be out of range).
const PLAIN_URL = /^https?:\/\/([a-z0-9.-]+)(?::(\d{1,5}))?\//;
const NUMERIC_LAST_LABEL = /(?:^|\.)(?:\d+|0x[0-9a-f]*)\.?$/;

function parses(url: string): boolean {
  const m = PLAIN_URL.exec(url);
  const name = m?.[1];
  if (name !== undefined && !name.includes('xn--') && !NUMERIC_LAST_LABEL.test(name) && Number(m?.[2] ?? 0) <= 65535) return true;
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

/** A Host header is valid when it is host[:port] and a URL host; `url` is the request URL, already checked. */
function validHostHeader(host: string, url: string): boolean {
  // Origin-form requests (nearly all): the URL was built from this very header.
  const rest = url.startsWith('https://') ? url.slice(8) : url.slice(7);
  if (rest.startsWith(host) && rest.charCodeAt(host.length) === 47 /* '/' */) return true;
  return HOST_RE.test(host) && isUrlHost('http', host);
}

/**
 * Hono middleware: answers 400 when the request URL (built by @hono/node-server from the Host header or an
 * absolute-form target, without parsing it) is not a URL, or when the Host header is not a valid host
 * (RFC 9112 §3.2: "a Host header field with an invalid field value" gets a 400). No handler that parses
 * `c.req.url` or builds links from Host can then turn a bad Host into a 500. Mount it before everything else.
 *
 * @example
 * app.use('*', validRequestUrl());
 */
export function validRequestUrl(): MiddlewareHandler {
  return async function validRequestUrl(c, next) {
    const url = c.req.url;
    const host = c.req.header('host');
    if (!parses(url) || (host !== undefined && !validHostHeader(host, url))) throw badRequest('invalid Host header');
    return next();
  };
}
