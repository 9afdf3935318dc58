/** @jsxImportSource hono/jsx */
/**
 * The page shell every UI page shares: one small CSS block, a header with the search box, no script and no
 * external asset. The CSS is sent inline and allowed by its hash in the Content-Security-Policy, so the policy
 * can forbid every script, frame, object and remote load (a readme that smuggled markup could run nothing).
 */
import { createHash } from 'node:crypto';
import type { Child } from 'hono/jsx';

const CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--accent:#0969da;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--fg);background:#fff}
header{display:flex;flex-wrap:wrap;gap:1rem 1.5rem;align-items:center;padding:.6rem 1.5rem;border-bottom:1px solid var(--line);background:var(--soft)}
header .brand{font-weight:700;font-size:1.1rem;color:var(--fg);text-decoration:none}
header nav a{margin-right:1rem}
header form{margin-left:auto;display:flex;gap:.4rem}
main{max-width:1100px;margin:0 auto;padding:.5rem 1.5rem 3rem}
a{color:var(--accent);text-decoration:none}
a:hover{text-decoration:underline}
h1{font-size:1.6rem;margin:1rem 0 .4rem}
h1 small{font-size:1rem;color:var(--muted);font-weight:400;margin-left:.5rem}
h2{font-size:1.15rem;margin:1.8rem 0 .6rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1rem 0 .4rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
pre,code{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft)}
pre{padding:.75rem 1rem;overflow:auto;border:1px solid var(--line);border-radius:6px;white-space:pre}
code{padding:.1rem .3rem;border-radius:4px}
pre code{padding:0;background:none}
.muted{color:var(--muted)}
.tag{display:inline-block;padding:0 .5rem;margin-right:.3rem;border-radius:1rem;font-size:.8rem;border:1px solid currentColor;white-space:nowrap}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}
.notice{border:1px solid currentColor;border-radius:6px;padding:.5rem .8rem;margin:.8rem 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:8px;padding:.7rem 1rem}
.card b{display:block;font-size:1.4rem;font-weight:600}
input[type=search]{padding:.35rem .6rem;border:1px solid var(--line);border-radius:6px;min-width:16rem;font:inherit}
button{padding:.35rem .9rem;border:1px solid var(--line);border-radius:6px;background:#fff;font:inherit;cursor:pointer}
.result{padding:.8rem 0;border-bottom:1px solid var(--line)}
.result p{margin:.2rem 0}
.readme{border:1px solid var(--line);border-radius:8px;padding:.2rem 1.2rem;overflow-wrap:anywhere}
.readme pre{white-space:pre-wrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dt{color:var(--muted)}dd{margin:0}
`;

/** The CSP source for the one style block above. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

/** Headers for every UI page: nothing runs, nothing loads from elsewhere, nothing is cached by a shared proxy. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': `default-src 'none'; style-src ${STYLE_HASH}; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export interface PageProps {
  title: string;
  /** Path prefix of nugate's public root ("/" or "/nuget/"): every link is built from it. */
  base: string;
  /** The search box's current text. */
  query?: string;
  children?: Child;
}

export function Page(props: PageProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · nugate</title>
        {/* No favicon request (it would be a 404 in every browser console). */}
        <link rel="icon" href="data:," />
        {/* Our own constant, never data: the only raw text any page carries. */}
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <header>
          <a class="brand" href={props.base}>
            nugate
          </a>
          <nav>
            <a href={props.base}>Home</a>
            <a href={`${props.base}ui/search`}>Packages</a>
          </nav>
          <form method="get" action={`${props.base}ui/search`} role="search">
            <input type="search" name="q" value={props.query ?? ''} placeholder="Search packages" aria-label="Search packages" />
            <button type="submit">Search</button>
          </form>
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** A link to a package page (and version), from the UI's base. */
export function packageHref(base: string, id: string, version?: string): string {
  const at = `${base}ui/packages/${encodeURIComponent(id)}`;
  return version === undefined ? at : `${at}/${encodeURIComponent(version)}`;
}

export function StateTag(props: { state: string }) {
  const cls = props.state === 'closed' ? 'ok' : props.state === 'half-open' ? 'warn' : 'bad';
  const text = props.state === 'closed' ? 'healthy' : props.state === 'half-open' ? 'probing' : 'failing';
  return (
    <span class={`tag ${cls}`} title={`breaker ${props.state}`}>
      {text} ({props.state})
    </span>
  );
}
