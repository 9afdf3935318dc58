/**
 * Answers on the publish routes. The NuGet client prints the HTTP reason phrase, not the body
 * (protocol.md §2.4: nuget.org puts the error text there), so every answer sets one. Node keeps a
 * statusMessage set before writeHead, so the response still goes through Hono's normal path.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { StatusCode } from 'hono/utils/http-status';
import { isNugateError } from '../errors.ts';
import { headerSafe, type Env } from '../http/respond.ts';

export type PublishEnv = Env;

const MAX_REASON = 200;

/**
 * A reason phrase Node will accept (RFC 9112 §4: HTAB / SP / VCHAR / obs-text; no CR or LF); clients decode
 * the status line as Latin-1, so anything else becomes "?" (headerSafe).
 */
export function reasonPhrase(text: string, fallback = 'Error'): string {
  const cleaned = headerSafe(text.replace(/[\r\n]+/g, ' ')).trim().slice(0, MAX_REASON);
  return cleaned === '' ? fallback : cleaned;
}

function setReason(c: Context<PublishEnv>, text: string): void {
  // Absent under app.request() in unit tests, where there is no socket to write a status line to.
  const out = (c.env as Partial<PublishEnv['Bindings']> | undefined)?.outgoing;
  if (out !== undefined) out.statusMessage = reasonPhrase(text);
}

/**
 * Middleware for the publish routes: an error answer built by app.onError gets the error's text as its reason
 * phrase too, so `dotnet nuget push` prints why, not just "Forbidden".
 */
export function errorReasonPhrase(): MiddlewareHandler<PublishEnv> {
  return async function errorReasonPhrase(c, next) {
    await next();
    if (isNugateError(c.error)) setReason(c, c.error.message);
  };
}

export interface ReplyOptions {
  /** Header values kept as separate lines (X-NuGet-Warning: the client logs each one). */
  multi?: Record<string, string[]>;
  headers?: Record<string, string>;
}

/**
 * Sends `status` with `reason` as the reason phrase and `body` as text (no body for 204/304). Only for answers
 * that are not nugate's own errors: an upstream's answer relayed as it came, or a folder's outcome.
 */
export function reply(c: Context<PublishEnv>, status: number, reason: string, body: string, options: ReplyOptions = {}): Response {
  setReason(c, reason);
  // Set on the raw response: Web Headers would fold repeated values into one comma-joined line.
  for (const [name, values] of Object.entries(options.multi ?? {})) {
    if (values.length > 0) c.env.outgoing.setHeader(name, values);
  }
  const headers: Record<string, string> = { ...options.headers };
  // Upstream statuses are passed through as they came, so the number is not one of Hono's literal types.
  const code = status as StatusCode;
  if (status === 204 || status === 304 || body === '') return c.newResponse(null, code, headers);
  headers['content-type'] = 'text/plain; charset=utf-8';
  return c.newResponse(body, code, headers);
}
