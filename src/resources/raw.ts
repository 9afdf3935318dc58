/**
 * Upstream JSON documents that nugate does not model (vulnerability pages, catalog entries) but that other documents
 * link to. A link is `{feed}raw/{upstream}/{token}`: the token was signed when nugate rewrote the document that named
 * it (src/sources/links.ts), so only URLs that an upstream's own documents named are ever fetched; a client cannot
 * choose a path, a query, a base or a publish endpoint.
 */
import { Hono } from 'hono';
import type { Services, Feed } from '../services.ts';
import { type Env } from '../http/respond.ts';
import { fanOut, nothingUsable, rendered } from './common.ts';
import { notFound } from '../errors.ts';

export function rawRoutes(s: Services, feed: Feed): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/:upstream/:token', async (c) => {
    const name = c.req.param('upstream');
    const source = feed.sources.find((u) => u.name === name);
    if (!source) throw notFound('no such upstream in this feed');
    const token = c.req.param('token');
    return rendered(c, s, feed, async () => {
      const outcomes = await fanOut([source], (src) => src.linked(token));
      const ok = outcomes[0];
      if (!ok || ok.kind !== 'ok') throw nothingUsable(s, outcomes, 'document');
      return { json: JSON.stringify(ok.value), kind: 'metadata', outcomes, ids: [] };
    });
  });
  return app;
}
