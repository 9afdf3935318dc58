/**
 * Upstream JSON documents that nugate does not model (catalog entries, vulnerability pages, ...) but that other
 * documents link to. They are proxied from exactly one upstream base each ({feed}/raw/{upstream}/{slot}/...),
 * rewritten like everything else, so following any link never leaves nugate and never reaches an arbitrary URL.
 */
import { Hono } from 'hono';
import type { Services, Feed } from '../services.ts';
import { type Env } from '../http/respond.ts';
import { fanOut, nothingUsable, rendered } from './common.ts';
import { notFound } from '../errors.ts';

export function rawRoutes(s: Services, feed: Feed): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/:upstream/:slot/*', async (c) => {
    const name = c.req.param('upstream');
    const upstream = feed.upstreams.find((u) => u.name === name);
    if (!upstream) throw notFound('no such upstream in this feed');
    const slot = c.req.param('slot');
    const url = new URL(c.req.url);
    const prefix = `/raw/${encodeURIComponent(name)}/${slot}/`;
    const at = url.pathname.indexOf(prefix);
    if (at < 0) throw notFound();
    const rest = url.pathname.slice(at + prefix.length) + url.search;
    if (rest.split('/').some((seg) => seg === '..' || seg === '.')) throw notFound();
    return rendered(c, s, feed, async () => {
    const outcomes = await fanOut([upstream], async (u) => {
      const { rawBases } = await u.discover();
      const root = rawBases.get(slot);
      if (!root) throw notFound('no such upstream resource');
      return s.docs.get(`raw:${u.name}:${root}${rest}`, 'metadata', u.name, (stale) => u.loadRewritten(root + rest, stale));
    });
    const ok = outcomes[0];
    if (!ok || ok.kind !== 'ok') throw nothingUsable(s, outcomes, 'document');
    return { json: ok.res.doc.body, kind: 'metadata', outcomes, ids: [] };
    });
  });
  return app;
}
