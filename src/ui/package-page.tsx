/** @jsxImportSource hono/jsx */
/**
 * The package page: versions with the upstream that serves each and whether nugate holds it, the selected
 * version's dependencies by framework, vulnerability and deprecation flags, its readme, and (on a version's own
 * page) the `/v3/explain` answer in words.
 */
import { z } from 'zod';
import { Page, packageHref } from './layout.tsx';
import { Markdown } from './markdown.tsx';
import type { PackageView, VersionDetails } from './package-data.ts';

export const explainAnswer = z.object({
  id: z.string(),
  version: z.string(),
  mapping: z.object({ pattern: z.string().nullable(), upstreams: z.array(z.string()) }).nullable(),
  eligible: z.array(z.string()),
  servedBy: z.string().nullable(),
  listedVersions: z.number(),
  upstreams: z.array(z.object({ name: z.string(), status: z.string(), lists: z.boolean(), cache: z.string().nullable(), stored: z.boolean() })),
  notEligible: z.array(z.string()),
});

export type ExplainAnswer = z.infer<typeof explainAnswer>;

export interface PackageProps {
  base: string;
  view: PackageView;
  /** Present on a version's own page. */
  explain?: ExplainAnswer;
}

const date = (iso: string | undefined): string => (iso === undefined ? '' : iso.slice(0, 10));

function Flags(p: { base: string; d: VersionDetails }) {
  const dep = p.d.deprecation;
  return (
    <>
      {dep !== undefined ? (
        <div class="notice warn" id="deprecation">
          <strong>Deprecated</strong>
          {dep.reasons.length > 0 ? ` (${dep.reasons.join(', ')})` : ''}
          {dep.message !== undefined ? `: ${dep.message.replace(/[.\s]+$/, '')}.` : '.'}
          {dep.alternate !== undefined ? (
            <>
              {' '}
              Suggested instead: <a href={packageHref(p.base, dep.alternate.id)}>{dep.alternate.id}</a> {dep.alternate.range ?? ''}
            </>
          ) : null}
        </div>
      ) : null}
      {p.d.vulnerabilities.length > 0 ? (
        <div class="notice bad" id="vulnerabilities">
          <strong>Known vulnerabilities:</strong>{' '}
          {p.d.vulnerabilities.map((v) => (
            <span class="tag bad">
              {v.advisoryUrl !== undefined ? (
                <a href={v.advisoryUrl} rel="nofollow noopener noreferrer">
                  {v.severity}
                </a>
              ) : (
                v.severity
              )}
            </span>
          ))}
        </div>
      ) : null}
    </>
  );
}

function Dependencies(p: { base: string; d: VersionDetails }) {
  const groups = p.d.dependencyGroups;
  if (groups.length === 0) return <p class="muted">No dependencies.</p>;
  return (
    <div id="dependencies">
      {groups.map((g) => (
        <>
          <h3>{g.framework}</h3>
          {g.dependencies.length === 0 ? (
            <p class="muted">No dependencies.</p>
          ) : (
            <ul>
              {g.dependencies.map((d) => (
                <li>
                  <a href={packageHref(p.base, d.id)}>{d.id}</a> <span class="muted">{d.range}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      ))}
    </div>
  );
}

/** The explain answer in words: which mapping rule applied, who may serve the id, who serves this version. */
function Explain(p: { e: ExplainAnswer }) {
  const e = p.e;
  return (
    <section id="explain">
      <h2>Why this version comes from where it does</h2>
      <ul>
        <li>
          {e.mapping === null
            ? 'No packageSourceMapping: every upstream may serve this id.'
            : e.mapping.pattern === null
              ? 'packageSourceMapping has no pattern for this id: no upstream may serve it.'
              : `packageSourceMapping pattern “${e.mapping.pattern}” sends this id to: ${e.mapping.upstreams.join(', ')}.`}
        </li>
        <li>
          Eligible upstreams, in priority order: {e.eligible.length > 0 ? e.eligible.join(', ') : 'none'}
          {e.notEligible.length > 0 ? `; not eligible: ${e.notEligible.join(', ')}` : ''}.
        </li>
        <li id="served-by">
          {e.servedBy !== null ? (
            <>
              Version {e.version} is served by <strong>{e.servedBy}</strong>.
            </>
          ) : (
            `No eligible upstream lists version ${e.version}.`
          )}{' '}
          The merged list has {e.listedVersions} version{e.listedVersions === 1 ? '' : 's'}.
        </li>
      </ul>
      <table>
        <thead>
          <tr>
            <th>upstream</th>
            <th>answer</th>
            <th>lists {e.version}</th>
            <th>version list</th>
            <th>package held</th>
          </tr>
        </thead>
        <tbody>
          {e.upstreams.map((u) => (
            <tr>
              <td>{u.name}</td>
              <td class={u.status === 'failed' ? 'bad' : ''}>{u.status === 'ok' ? 'answered' : u.status === 'notFound' ? 'does not know the id' : 'failed'}</td>
              <td>{u.lists ? 'yes' : 'no'}</td>
              <td>{u.cache ?? '–'}</td>
              <td>{u.stored ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function PackagePage(p: PackageProps) {
  const v = p.view;
  const d = v.selected;
  return (
    <Page title={d ? `${v.displayId} ${d.display}` : v.displayId} base={p.base}>
      <h1>
        {v.displayId}
        {d ? <small>{d.display}</small> : null}
      </h1>
      {v.problems.map((problem) => (
        <p class="notice warn">Partial answer: {problem}</p>
      ))}
      {d === undefined ? (
        <p class="notice warn">This version is not known to any eligible upstream.</p>
      ) : (
        <>
          {d.description !== undefined ? <p>{d.description}</p> : null}
          <dl>
            {d.authors !== undefined ? (
              <>
                <dt>authors</dt>
                <dd>{d.authors}</dd>
              </>
            ) : null}
            {d.tags.length > 0 ? (
              <>
                <dt>tags</dt>
                <dd>{d.tags.join(' ')}</dd>
              </>
            ) : null}
            <dt>published</dt>
            <dd>{d.listed ? date(d.published) || 'unknown' : 'unlisted'}</dd>
            <dt>install</dt>
            <dd>
              <code>
                dotnet add package {v.displayId} --version {d.display}
              </code>
            </dd>
          </dl>
          <Flags base={p.base} d={d} />
        </>
      )}

      {p.explain !== undefined ? <Explain e={p.explain} /> : null}

      <h2>Versions</h2>
      <table id="versions">
        <thead>
          <tr>
            <th>version</th>
            <th>served by</th>
            <th>cached</th>
            <th>published</th>
            <th>flags</th>
          </tr>
        </thead>
        <tbody>
          {v.versions.map((r) => (
            <tr data-version={r.version} class={d?.version === r.version ? 'selected' : ''}>
              <td>
                <a href={packageHref(p.base, v.id, r.version)}>{r.display}</a>
                {d?.version === r.version ? ' ◂' : ''}
              </td>
              <td>{r.upstream ?? '–'}</td>
              <td class={r.cached ? 'ok cached' : 'muted not-cached'}>{r.cached ? 'cached' : 'not cached'}</td>
              <td>{r.listed ? date(r.published) : 'unlisted'}</td>
              <td>
                {r.prerelease ? <span class="tag">prerelease</span> : null}
                {r.deprecated ? <span class="tag warn">deprecated</span> : null}
                {r.vulnerable ? <span class="tag bad">vulnerable</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {v.omitted > 0 ? <p class="muted">{v.omitted} older versions not shown.</p> : null}

      {d !== undefined ? (
        <>
          <h2>Dependencies</h2>
          <Dependencies base={p.base} d={d} />
          <h2>Readme</h2>
          {v.readme === undefined ? (
            <p class="muted">This version has no readme.</p>
          ) : (
            <div class="readme" id="readme">
              <Markdown text={v.readme.text} />
              {v.readme.truncated ? <p class="muted">(the rest of the readme is not shown)</p> : null}
            </div>
          )}
        </>
      ) : null}
    </Page>
  );
}
