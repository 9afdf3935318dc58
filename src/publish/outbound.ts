/**
 * Headers of a publish request to the target upstream (design.md §6, protocol.md §5 item 49): the API key per
 * key mode, the client's NuGet headers, and the upstream's own credentials while on its origin.
 */
import type { UpstreamConfig } from '../config/schema.ts';
import { NugateError } from '../errors.ts';
import { mayCarryCredentials, upstreamCredentialHeaders } from '../upstream/credentials.ts';

/**
 * Client headers an upstream may act on. nuget.org's push policy reads X-NuGet-Protocol-Version, or else the
 * deprecated X-NuGet-Client-Version, so both go (RequireMinProtocolVersionForPushPolicy).
 */
const FORWARDED = ['x-nuget-protocol-version', 'x-nuget-client-version', 'user-agent', 'x-nuget-session-id', 'accept-language'] as const;

const DEFAULT_USER_AGENT = 'nugate (+NuGet V3 proxy)';

/** A server-side mistake a client cannot fix; 500, with the detail only in the log. */
export function misconfigured(upstream: string, detail: string): NugateError {
  return new NugateError('PUBLISH_MISCONFIGURED', 500, `nugate cannot publish to upstream "${upstream}": ${detail}`);
}

/** In `mapped` mode: the key nugate itself holds for the upstream, from the env var named by apiKeyEnv. */
export function upstreamApiKey(upstream: UpstreamConfig, env: NodeJS.ProcessEnv): string {
  if (upstream.apiKeyEnv === undefined) throw misconfigured(upstream.name, 'it has no apiKeyEnv (needed when publish.keyMode is "mapped")');
  const key = env[upstream.apiKeyEnv];
  if (key === undefined || key === '') throw misconfigured(upstream.name, `environment variable ${upstream.apiKeyEnv} (apiKeyEnv) is not set`);
  return key;
}

export interface OutboundInput {
  upstream: UpstreamConfig;
  url: string;
  /** The key to send as X-NuGet-ApiKey: the client's (passthrough) or the upstream's (mapped); none = omit. */
  apiKey: string | undefined;
  clientHeader: (name: string) => string | undefined;
  env: NodeJS.ProcessEnv;
  /**
   * Whether nugate's own upstream credentials (Basic/Bearer/headers) ride along. Only in `mapped` key mode,
   * where nugate has authenticated the client itself: in passthrough mode a feed that authorises pushes by
   * Basic and ignores the key (Azure Artifacts) would otherwise accept anyone who can reach nugate.
   */
  withCredentials: boolean;
}

export function outboundHeaders(input: OutboundInput): Record<string, string> {
  const headers: Record<string, string> = {};
  if (input.withCredentials && mayCarryCredentials(input.upstream, input.url, [])) {
    try {
      Object.assign(headers, upstreamCredentialHeaders(input.upstream, input.env));
    } catch (err) {
      throw misconfigured(input.upstream.name, (err as Error).message);
    }
  }
  // The key mode alone decides this header: an `auth.type: apiKey` read credential must not turn an
  // anonymous push into one signed with nugate's key.
  delete headers['x-nuget-apikey'];
  for (const name of FORWARDED) {
    const value = input.clientHeader(name);
    if (value !== undefined) headers[name] = value;
  }
  headers['user-agent'] ??= DEFAULT_USER_AGENT;
  if (input.apiKey !== undefined && input.apiKey !== '') headers['x-nuget-apikey'] = input.apiKey;
  return headers;
}
