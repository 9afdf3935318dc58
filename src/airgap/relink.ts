/**
 * Links to documents nugate does not model (vulnerability pages, catalog entries) are tokens signed with the link
 * key of the cache that wrote them (sources/links.ts). A bundle carries the exporting cache's tokens; on import they
 * are signed again with the importing cache's key, in document bodies and in `link:` keys alike, so the imported
 * vulnerability index leads to its imported pages. A token's slot and path are readable without the key; the bundle
 * that names them has passed its hash check, so re-signing trusts exactly what import already trusts.
 */
import { FEED_SENTINEL } from '../feed-urls.ts';
import type { LinkSigner } from '../sources/links.ts';
import { docKey, parseDocKey } from '../sources/keys.ts';

const TOKEN = '([0-9]{1,3})\\.([A-Za-z0-9_-]*)\\.[A-Za-z0-9_-]+';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function resign(signer: LinkSigner, upstream: string, slot: string, rest: string): string {
  return signer.sign(upstream, Number(slot), Buffer.from(rest, 'base64url').toString('utf8'));
}

export interface Relinker {
  /** A document body with every link token of its upstream signed again. */
  body(upstream: string, body: string): string;
  /** A `link:` key with its token signed again; any other key unchanged. */
  key(key: string): string;
}

export function createRelinker(signer: LinkSigner): Relinker {
  const patterns = new Map<string, RegExp>();
  const patternFor = (upstream: string): RegExp => {
    let re = patterns.get(upstream);
    if (re === undefined) {
      re = new RegExp(`${escapeRegExp(`${FEED_SENTINEL}raw/${encodeURIComponent(upstream)}/`)}${TOKEN}`, 'g');
      patterns.set(upstream, re);
    }
    return re;
  };
  return {
    body(upstream, body) {
      const prefix = `${FEED_SENTINEL}raw/${encodeURIComponent(upstream)}/`;
      if (!body.includes(prefix)) return body;
      return body.replace(patternFor(upstream), (_whole, slot: string, rest: string) => `${prefix}${resign(signer, upstream, slot, rest)}`);
    },
    key(key) {
      const parsed = parseDocKey(key);
      if (parsed?.type !== 'link') return key;
      const m = new RegExp(`^${TOKEN}$`).exec(parsed.rest);
      if (m === null || m[1] === undefined || m[2] === undefined) return key;
      return docKey(parsed.upstream, { type: 'link', token: resign(signer, parsed.upstream, m[1], m[2]) });
    },
  };
}
