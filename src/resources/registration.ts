/**
 * RegistrationsBaseUrl (protocol.md §1.4). nugate rebuilds every index from the leaves of the eligible sources and
 * repages it like nuget.org (design.md §5): fewer than 128 versions are inlined, larger ids get pages that nugate
 * serves itself. Leaves are served from the same merged set, so no page or leaf URL ever points at an upstream.
 * The SemVer1 hive is the SemVer2 one minus SemVer2 packages.
 */
import { Hono, type Context } from 'hono';
import type { Services, Feed } from '../services.ts';
import { eligibleSources } from '../services.ts';
import { mergeLeaves, buildRegistration, filterSemVer1, type Leaf, type Json, type BuiltRegistration } from '../merge/registration.ts';
import { FEED_SENTINEL } from '../feed-urls.ts';
import { type Env } from '../http/respond.ts';
import { idParam, versionParam, fanOut, nothingUsable, type Outcome, rendered } from './common.ts';
import { notFound } from '../errors.ts';
import { isJsonObject } from '../nuget/json.ts';

type Hive = 'registration' | 'registration-semver1';


const canonicalIndex = (hive: Hive, id: string): string => `${FEED_SENTINEL}${hive}/${id}/index.json`;

/** Leaf @ids are nugate's own, whatever layout the upstream used, so nugate can serve them from this set. */
function ownLeaves(leaves: Leaf[], hive: Hive, id: string): Leaf[] {
  return leaves.map((l) => ({ ...l, item: { ...l.item, '@id': `${FEED_SENTINEL}${hive}/${id}/${l.version}.json` } }));
}

async function build(s: Services, feed: Feed, hive: Hive, id: string): Promise<{ built: BuiltRegistration; leaves: Leaf[]; outcomes: Array<Outcome<Leaf[]>> }> {
  const outcomes = await fanOut(eligibleSources(s, feed, id), (src) => src.registration(id));
  let leaves = mergeLeaves(outcomes.map((o) => (o.kind === 'ok' ? o.value : [])));
  if (hive === 'registration-semver1') leaves = filterSemVer1(leaves);
  if (leaves.length === 0) throw nothingUsable(s, outcomes, `package ${id}`);
  leaves = ownLeaves(leaves, hive, id);
  const index = canonicalIndex(hive, id);
  const built = buildRegistration(leaves, { index, page: (lower, upper) => `${FEED_SENTINEL}${hive}/${id}/page/${lower}/${upper}.json` });
  return { built, leaves, outcomes };
}

function leafDocument(leaf: Leaf, index: string): Json {
  const item = leaf.item;
  const entry = item.catalogEntry;
  const doc: Json = {
    '@id': item['@id'],
    '@type': ['Package', 'http://schema.nuget.org/catalog#Permalink'],
    catalogEntry: isJsonObject(entry) ? entry['@id'] : entry,
    listed: isJsonObject(entry) ? (entry.listed ?? true) : true,
    packageContent: item.packageContent,
    registration: index,
  };
  if (isJsonObject(entry) && entry.published !== undefined) doc.published = entry.published;
  return doc;
}

export function registrationRoutes(s: Services, feed: Feed, hive: Hive): Hono<Env> {
  const app = new Hono<Env>();

  /** Renders (or reuses) one document of the rebuilt registration. */
  const serve = async (c: Context<Env>, id: string, pick: (b: { built: BuiltRegistration; leaves: Leaf[] }) => Json | undefined): Promise<Response> => {
    return rendered(c, s, feed, async () => {
      const result = await build(s, feed, hive, id);
      const doc = pick(result);
      if (!doc) throw notFound(`no such registration document for ${id}`);
      return { json: JSON.stringify(doc), kind: 'metadata', outcomes: result.outcomes, ids: [id] };
    });
  };

  // Parameters only (no static segment after a parameter), so Hono keeps its fast RegExpRouter for the app.
  app.get('/:id/:name', (c) => {
    const id = idParam(c.req.param('id'));
    const name = c.req.param('name');
    if (name === 'index.json') return serve(c, id, ({ built }) => built.index);
    if (!name.endsWith('.json')) throw notFound();
    const version = versionParam(name.slice(0, -'.json'.length));
    return serve(c, id, ({ leaves }) => {
      const leaf = leaves.find((l) => l.version === version);
      return leaf ? leafDocument(leaf, canonicalIndex(hive, id)) : undefined;
    });
  });

  app.get('/:id/:segment/:lower/:upper', (c) => {
    if (c.req.param('segment') !== 'page') throw notFound();
    const id = idParam(c.req.param('id'));
    const lower = versionParam(c.req.param('lower'));
    const upperRaw = c.req.param('upper');
    if (!upperRaw.endsWith('.json')) throw notFound();
    const upper = versionParam(upperRaw.slice(0, -'.json'.length));
    return serve(c, id, ({ built }) => {
      for (const [k, page] of built.pages) {
        const [l, u] = k.split('/');
        if (l?.toLowerCase() === lower && u?.toLowerCase() === upper) return page;
      }
      return undefined;
    });
  });

  return app;
}
