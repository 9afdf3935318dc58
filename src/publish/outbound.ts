/**
 * Headers of a publish request to the target upstream (design.md §6, protocol.md §5 item 49): the API key per
 * key mode, the client's NuGet headers, and in `mapped` mode the upstream's credentials for the target URL.
 */
import type { UpstreamConfig } from '../config/schema.ts';
import { misconfigured } from './errors.ts';

/**
 * Client headers an upstream may act on. nuget.org's push policy reads X-NuGet-Protocol-Version, or else the
 * deprecated X-NuGet-Client-Version, so both go (RequireMinProtocolVersionForPushPolicy).
 */
const FORWARDED = ['x-nuget-protocol-version', 'x-nuget-client-version', 'user-agent', 'x-nuget-session-id', 'accept-language'] as const;

const DEFAULT_USER_AGENT = 'nugate (+NuGet V3 proxy)';

/** In `mapped` mode: the key nugate itself holds for the upstream, from the env var named by apiKeyEnv. */
export function upstreamApiKey(upstream: UpstreamConfig, env: NodeJS.ProcessEnv): string {
  if (upstream.apiKeyEnv === undefined) throw misconfigured(upstream.name, 'it has no apiKeyEnv (needed when publish.keyMode is "mapped")');
  const key = env[upstream.apiKeyEnv];
  if (key === undefined || key === '') throw misconfigured(upstream.name, `environment variable ${upstream.apiKeyEnv} (apiKeyEnv) is not set`);
  return key;
}

export interface OutboundInput {
  /** The key to send as X-NuGet-ApiKey: the client's (passthrough) or the upstream's (mapped); none = omit. */
  apiKey: string | undefined;
  clientHeader: (name: string) => string | undefined;
  /**
   * The upstream's credentials (Basic/Bearer/headers) valid for the target URL, as the publish target gives
   * them; pass none in `passthrough` key mode, where nugate has not authenticated the client itself: a feed
   * that authorises pushes by Basic and ignores the key (Azure Artifacts) would otherwise accept anyone who
   * can reach nugate.
   */
  credentials: Readonly<Record<string, string>>;
}

export function outboundHeaders(input: OutboundInput): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.credentials)) {
    const lower = name.toLowerCase();
    // The key mode alone decides this header: an `auth.type: apiKey` read credential must not turn an
    // anonymous push into one signed with nugate's key.
    if (lower !== 'x-nuget-apikey') headers[lower] = value;
  }
  for (const name of FORWARDED) {
    const value = input.clientHeader(name);
    if (value !== undefined) headers[name] = value;
  }
  headers['user-agent'] ??= DEFAULT_USER_AGENT;
  if (input.apiKey !== undefined && input.apiKey !== '') headers['x-nuget-apikey'] = input.apiKey;
  return headers;
}
