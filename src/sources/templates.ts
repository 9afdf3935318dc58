/**
 * Browser templates (PackageDetailsUriTemplate …) are copied verbatim into nugate's service index (they point at a
 * gallery web site), except one that sits on an origin nugate proxies as an API: copying it would hand clients an
 * upstream host, and nugate does not serve web pages.
 */
import type { ServiceIndexEntry, UpstreamResources } from '../nuget/service-index.ts';

export function browserTemplatesOf(resources: UpstreamResources): ServiceIndexEntry[] {
  const apiOrigins = new Set<string>();
  for (const u of [resources.packageBaseAddress, resources.registrationSemVer2, resources.registrationSemVer1, ...resources.search, ...resources.autocomplete, ...resources.bases]) {
    if (u === undefined) continue;
    try {
      apiOrigins.add(new URL(u).origin);
    } catch {
      // not a URL: nothing to compare
    }
  }
  return resources.browserTemplates.filter((t) => {
    try {
      return !apiOrigins.has(new URL(t['@id'].replace(/[{}]/g, '')).origin);
    } catch {
      return false;
    }
  });
}
