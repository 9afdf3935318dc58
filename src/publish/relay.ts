/**
 * Turns the upstream's publish answer into ours: same status, same reason phrase (the client prints it),
 * every X-NuGet-Warning as its own header line, the error text for non-2xx (protocol.md §5 items 47–52).
 * Every text is cleaned first: no secret it echoes, and no URL, host or address of the upstream (it is named
 * by its configured name instead).
 */
import { STATUS_CODES } from 'node:http';
import type { Context } from 'hono';
import type { ForwardResponse } from './forward.ts';
import { reply, type PublishEnv } from './reply.ts';
import { scrub, withoutAddresses } from './scrub.ts';

/** protocol.md §5 item 60: a proxy's Retry-After stays within 60 s. */
const MAX_RETRY_AFTER = 60;

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export interface RelayContext {
  /** The upstream's configured name, which replaces its addresses in relayed texts. */
  upstream: string;
  /** Host names of the upstream (publish URL, service index) to remove from relayed texts. */
  hosts: readonly string[];
  /** Keys and credentials the upstream may echo. */
  secrets: readonly (string | undefined)[];
}

export function relay(c: Context<PublishEnv>, res: ForwardResponse, ctx: RelayContext): Response {
  const clean = (text: string): string => withoutAddresses(scrub(text, ctx.secrets), ctx.upstream, ctx.hosts);
  const ok = res.status >= 200 && res.status < 300;
  const reason = clean(res.statusMessage) || STATUS_CODES[res.status] || 'Unknown';
  const headers: Record<string, string> = {};
  const retryAfter = asList(res.headers['retry-after'])[0];
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter.trim())) {
    headers['retry-after'] = String(Math.min(Number(retryAfter.trim()), MAX_RETRY_AFTER));
  }
  const body = ok ? '' : clean(res.body.toString('utf8'));
  return reply(c, res.status, reason, body, {
    multi: { 'X-NuGet-Warning': asList(res.headers['x-nuget-warning']).map(clean) },
    headers,
  });
}
