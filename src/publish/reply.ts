/**
 * Answers on the publish routes. The NuGet client prints the HTTP reason phrase, not the body
 * (protocol.md §2.4: nuget.org puts the error text there), so every answer sets one. Node keeps a
 * statusMessage set before writeHead, so the response still goes through Hono's normal path.
 */
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import type { StatusCode } from 'hono/utils/http-status';

export type PublishEnv = { Bindings: HttpBindings };

const MAX_REASON = 200;

/**
 * A reason phrase Node will accept (RFC 9112 §4: HTAB / SP / VCHAR / obs-text; no CR or LF). Non-ASCII
 * becomes "?" because clients decode the status line as Latin-1.
 */
export function reasonPhrase(text: string, fallback = 'Error'): string {
  const cleaned = text
    .replace(/[\r\n]+/g, ' ')
    .replace(/[^\t\x20-\x7e]/g, '?')
    .trim()
    .slice(0, MAX_REASON);
  return cleaned === '' ? fallback : cleaned;
}

export interface ReplyOptions {
  /** Header values kept as separate lines (X-NuGet-Warning: the client logs each one). */
  multi?: Record<string, string[]>;
  headers?: Record<string, string>;
  /** Ask Node to close the connection after the answer (the request body was not fully read). */
  close?: boolean;
}

/** Sends `status` with `reason` as the reason phrase and `body` as text (no body for 204/304). */
export function reply(c: Context<PublishEnv>, status: number, reason: string, body: string, options: ReplyOptions = {}): Response {
  const out = c.env.outgoing;
  out.statusMessage = reasonPhrase(reason);
  // Set on the raw response: Web Headers would fold repeated values into one comma-joined line.
  for (const [name, values] of Object.entries(options.multi ?? {})) {
    if (values.length > 0) out.setHeader(name, values);
  }
  const headers: Record<string, string> = { ...options.headers };
  if (options.close) headers.connection = 'close';
  // Upstream statuses are passed through as they came, so the number is not one of Hono's literal types.
  const code = status as StatusCode;
  if (status === 204 || status === 304 || body === '') return c.newResponse(null, code, headers);
  headers['content-type'] = 'text/plain; charset=utf-8';
  return c.newResponse(body, code, headers);
}

/** The common case: the same short text as reason phrase and body. */
export function replyText(c: Context<PublishEnv>, status: number, message: string, options: ReplyOptions = {}): Response {
  return reply(c, status, message, message, options);
}
