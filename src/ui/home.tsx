/** @jsxImportSource hono/jsx */
/**
 * The home page: how to connect a client to this instance, the upstreams (by name) and their breaker state, the
 * cache's size and hit ratio, and the latest requests. It reads only running totals (no walk of the cache), so it
 * stays cheap however large the cache is.
 */
import type { CacheSummary } from '../cache/index.ts';
import { formatBytes } from '../config/units.ts';
import { hitRatio, type ActivityEntry, type CacheCounts } from './activity.ts';
import { Page, StateTag } from './layout.tsx';

export interface HomeProps {
  base: string;
  /** Absolute URL of the merged service index, as clients must write it. */
  feedUrl: string;
  authRead: boolean;
  offline: boolean;
  upstreams: Array<{ name: string; local: boolean; state: 'closed' | 'open' | 'half-open' }>;
  cache: CacheSummary;
  counts: CacheCounts;
  recent: ActivityEntry[];
  /** Worker processes (config `workers`): the counters and the activity are this process's. */
  workers: number;
}

/** The `dotnet nuget add source` line for this instance; plain HTTP needs the client's explicit consent (.NET 9+). */
export function addSourceCommand(feedUrl: string, authRead: boolean): string {
  const parts = ['dotnet nuget add source', feedUrl, '-n nugate'];
  if (feedUrl.startsWith('http:')) parts.push('--allow-insecure-connections');
  if (authRead) parts.push('--username YOUR_USER --password YOUR_PASSWORD --store-password-in-clear-text');
  return parts.join(' ');
}

/** A NuGet.Config that uses nugate only: `<clear/>` drops inherited sources, the mapping sends every id here. */
export function nugetConfigSnippet(feedUrl: string, authRead: boolean): string {
  const insecure = feedUrl.startsWith('http:') ? ' allowInsecureConnections="true"' : '';
  const lines = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<configuration>',
    '  <packageSources>',
    '    <clear />',
    `    <add key="nugate" value="${feedUrl.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"${insecure} />`,
    '  </packageSources>',
    '  <packageSourceMapping>',
    '    <packageSource key="nugate">',
    '      <package pattern="*" />',
    '    </packageSource>',
    '  </packageSourceMapping>',
  ];
  if (authRead) {
    lines.push(
      '  <packageSourceCredentials>',
      '    <nugate>',
      '      <add key="Username" value="YOUR_USER" />',
      '      <add key="ClearTextPassword" value="%NUGATE_PASSWORD%" />',
      '    </nugate>',
      '  </packageSourceCredentials>',
    );
  }
  lines.push('</configuration>');
  return lines.join('\n');
}

const percent = (n: number | undefined): string => (n === undefined ? '–' : `${(n * 100).toFixed(1)} %`);
const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

function statusClass(status: number): string {
  return status >= 500 ? 'bad' : status >= 400 ? 'warn' : '';
}

export function HomePage(p: HomeProps) {
  const ratio = hitRatio(p.counts);
  const answered = p.counts.hit + p.counts.stale + p.counts.revalidated + p.counts.miss;
  return (
    <Page title="Home" base={p.base}>
      <h1>nugate</h1>
      <p class="muted">A caching, merging proxy for NuGet V3 feeds. {p.offline ? <strong class="warn">Offline: only what is held is served.</strong> : null}</p>

      <h2>Connect</h2>
      <p>
        Service index: <code id="feed-url">{p.feedUrl}</code>
      </p>
      <p>Add it with the .NET CLI:</p>
      <pre>
        <code id="add-source">{addSourceCommand(p.feedUrl, p.authRead)}</code>
      </pre>
      <p>
        Or use it as the only source, in a <code>NuGet.Config</code> next to the solution:
      </p>
      <pre>
        <code id="nuget-config">{nugetConfigSnippet(p.feedUrl, p.authRead)}</code>
      </pre>
      {p.authRead ? <p class="muted">This instance asks for credentials: a configured user and password, or a publish API key as the password.</p> : null}

      <h2>Upstreams</h2>
      <table id="upstreams">
        <thead>
          <tr>
            <th>name</th>
            <th>kind</th>
            <th>state</th>
          </tr>
        </thead>
        <tbody>
          {p.upstreams.map((u) => (
            <tr>
              <td>{u.name}</td>
              <td>{u.local ? 'folder' : 'V3 feed'}</td>
              <td>
                <StateTag state={u.state} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Cache</h2>
      <div class="grid" id="cache">
        <div class="card">
          packages and files
          <b>{formatBytes(p.cache.blobs.bytes)}</b>
          <span class="muted">
            {p.cache.blobs.count} files, max {formatBytes(p.cache.blobs.maxSize)}
          </span>
        </div>
        <div class="card">
          metadata
          <b>{formatBytes(p.cache.metadata.bytes)}</b>
          <span class="muted">
            {p.cache.metadata.entries} documents ({p.cache.store} store)
          </span>
        </div>
        <div class="card">
          memory tier
          <b>{formatBytes(p.cache.hot.bytes)}</b>
          <span class="muted">
            {p.cache.hot.entries} entries, max {formatBytes(p.cache.hot.maxSize)}
          </span>
        </div>
        <div class="card">
          answered from cache
          <b id="hit-ratio">{percent(ratio)}</b>
          <span class="muted">
            {p.counts.hit} hit, {p.counts.revalidated} revalidated, {p.counts.stale} stale, {p.counts.miss} miss of {answered}
            {p.workers > 1 ? ' (this worker)' : ''}
          </span>
        </div>
      </div>

      <h2>Recent activity</h2>
      {p.recent.length === 0 ? (
        <p class="muted">No feed requests yet.</p>
      ) : (
        <table id="activity">
          <thead>
            <tr>
              <th>time (UTC)</th>
              <th>method</th>
              <th>path</th>
              <th class="num">status</th>
              <th>cache</th>
              <th class="num">ms</th>
            </tr>
          </thead>
          <tbody>
            {p.recent.map((e) => (
              <tr>
                <td>{clock(e.at)}</td>
                <td>{e.method}</td>
                <td>
                  <code>{e.path}</code>
                </td>
                <td class={`num ${statusClass(e.status)}`}>{e.status}</td>
                <td>{e.cache}</td>
                <td class="num">{e.ms}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
