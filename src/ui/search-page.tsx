/** @jsxImportSource hono/jsx */
/**
 * The search page: nugate's own merged search (every upstream, the source mapping applied), results linking to
 * package pages. The answer is parsed with a schema that keeps only the fields shown.
 */
import { z } from 'zod';
import { Page, packageHref } from './layout.tsx';

const textList = z.union([z.array(z.string()), z.string()]).optional();

export const searchAnswer = z.object({
  totalHits: z.number(),
  data: z.array(
    z.object({
      id: z.string(),
      version: z.string(),
      description: z.string().optional(),
      authors: textList,
      tags: textList,
      totalDownloads: z.number().optional(),
      verified: z.boolean().optional(),
      versions: z.array(z.unknown()).optional(),
    }),
  ),
});

export type SearchAnswer = z.infer<typeof searchAnswer>;

export const PAGE_SIZE = 20;

export interface SearchProps {
  base: string;
  query: string;
  prerelease: boolean;
  skip: number;
  answer: SearchAnswer | undefined;
  /** Why there is no answer (the feed's own status text). */
  error?: string;
}

const joined = (v: string[] | string | undefined): string => (Array.isArray(v) ? v.join(', ') : (v ?? ''));

function pageHref(p: SearchProps, skip: number): string {
  const q = new URLSearchParams({ q: p.query });
  if (!p.prerelease) q.set('prerelease', 'false');
  if (skip > 0) q.set('skip', String(skip));
  return `${p.base}ui/search?${q.toString()}`;
}

export function SearchPage(p: SearchProps) {
  const a = p.answer;
  return (
    <Page title={p.query ? `Search: ${p.query}` : 'Packages'} base={p.base} query={p.query}>
      <h1>Packages</h1>
      <form method="get" action={`${p.base}ui/search`}>
        <input type="search" name="q" value={p.query} placeholder="Search the merged feed" aria-label="Search the merged feed" />{' '}
        <label>
          <input type="checkbox" name="prerelease" value="false" checked={!p.prerelease} /> stable only
        </label>{' '}
        <button type="submit">Search</button>
      </form>
      {p.error !== undefined ? <p class="notice bad">{p.error}</p> : null}
      {a === undefined ? null : (
        <>
          <p class="muted" id="total-hits">
            {a.totalHits} package{a.totalHits === 1 ? '' : 's'}
            {p.query ? ` for “${p.query}”` : ''}
          </p>
          <div id="results">
            {a.data.map((r) => (
              <div class="result">
                <p>
                  <a class="package-link" href={packageHref(p.base, r.id)}>
                    <strong>{r.id}</strong>
                  </a>{' '}
                  <span class="muted">{r.version}</span>
                  {r.verified ? <span class="tag ok"> verified</span> : null}
                </p>
                {r.description ? <p>{r.description.length > 300 ? `${r.description.slice(0, 300)}…` : r.description}</p> : null}
                <p class="muted">
                  {joined(r.authors) ? `by ${joined(r.authors)} · ` : ''}
                  {r.totalDownloads !== undefined ? `${r.totalDownloads.toLocaleString('en-US')} downloads · ` : ''}
                  {r.versions !== undefined ? `${r.versions.length} versions` : ''}
                </p>
              </div>
            ))}
          </div>
          <p>
            {p.skip > 0 ? <a href={pageHref(p, Math.max(0, p.skip - PAGE_SIZE))}>← previous</a> : null}{' '}
            {p.skip + PAGE_SIZE < a.totalHits ? <a href={pageHref(p, p.skip + PAGE_SIZE)}>next →</a> : null}
          </p>
        </>
      )}
    </Page>
  );
}
