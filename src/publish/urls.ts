/**
 * Upstream publish URLs, built the way the NuGet client builds them from a PackagePublish @id
 * (PackageUpdateResource; protocol.md §2.4), so the upstream sees what a direct push would send.
 */

/** An @id with an empty path gets the conventional V2 endpoint, as the client does unless --no-service-endpoint. */
function withServiceEndpoint(publishUrl: string): URL {
  const url = new URL(publishUrl);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/api/v2/package/';
  return url;
}

/** Push: PUT to the @id with a trailing slash appended (EnsureTrailingSlash). */
export function pushUrl(publishUrl: string): string {
  const url = withServiceEndpoint(publishUrl);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/**
 * Delete/relist: `{@id}/{id}/{version}`. `rawId` and `rawVersion` are the path segments exactly as the
 * client sent them (still percent-encoded, case and non-normalized form kept).
 */
export function itemUrl(publishUrl: string, rawId: string, rawVersion: string): string {
  const url = withServiceEndpoint(publishUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${rawId}/${rawVersion}`;
  return url.href;
}
