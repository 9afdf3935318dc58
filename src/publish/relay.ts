/**
 * Turns the upstream's publish answer into ours: same status, same reason phrase (the client prints it),
 * every X-NuGet-Warning as its own header line, the error text for non-2xx (protocol.md §5 items 47–52).
 */
import { STATUS_CODES } from 'node:http';
import type { Context } from 'hono';
import type { ForwardResponse } from './forward.ts';
import { reply, type PublishEnv } from './reply.ts';

/** protocol.md §5 item 60: a proxy's Retry-After stays within 60 s. */
const MAX_RETRY_AFTER = 60;

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Replaces every occurrence of each secret; an upstream error text may echo the key it was sent. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s !== undefined && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  return out;
}

export function relay(c: Context<PublishEnv>, res: ForwardResponse, secrets: readonly (string | undefined)[]): Response {
  const ok = res.status >= 200 && res.status < 300;
  const reason = scrub(res.statusMessage, secrets) || STATUS_CODES[res.status] || 'Unknown';
  const headers: Record<string, string> = {};
  const retryAfter = asList(res.headers['retry-after'])[0];
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter.trim())) {
    headers['retry-after'] = String(Math.min(Number(retryAfter.trim()), MAX_RETRY_AFTER));
  }
  const body = ok ? '' : scrub(res.body.toString('utf8'), secrets);
  return reply(c, res.status, reason, body, {
    multi: { 'X-NuGet-Warning': asList(res.headers['x-nuget-warning']).map((w) => scrub(w, secrets)) },
    headers,
  });
}
