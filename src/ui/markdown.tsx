/** @jsxImportSource hono/jsx */
/**
 * A package readme as a small, safe subset of Markdown: headings, paragraphs, lists, fenced code, inline code,
 * bold and links. Everything becomes JSX text, which hono/jsx escapes, so HTML inside a readme shows as text
 * and never reaches the page as markup. Links are kept only for http(s) targets; images show their alt text
 * (the page loads nothing from elsewhere).
 */
import type { Child } from 'hono/jsx';

type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'paragraph'; text: string };

const FENCE = /^\s{0,3}(```|~~~)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}\d{1,9}[.)]\s+(.*)$/;

/** Splits the text into blocks, line by line (no nesting: a readme is shown, not typeset). */
export function markdownBlocks(text: string): Block[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let para: string[] = [];
  const flush = (): void => {
    if (para.length > 0) blocks.push({ kind: 'paragraph', text: para.join(' ') });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !(lines[i] ?? '').trimStart().startsWith(fence[1] ?? '```'); i++) code.push(lines[i] ?? '');
      blocks.push({ kind: 'code', text: code.join('\n') });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'heading', level: heading[1]?.length ?? 1, text: heading[2] ?? '' });
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = bullet ? undefined : NUMBERED.exec(line);
    const item = bullet ?? numbered;
    if (item) {
      flush();
      const ordered = numbered !== undefined && numbered !== null;
      const last = blocks[blocks.length - 1];
      if (last?.kind === 'list' && last.ordered === ordered) last.items.push(item[1] ?? '');
      else blocks.push({ kind: 'list', ordered, items: [item[1] ?? ''] });
      continue;
    }
    if (line.trim() === '') flush();
    else para.push(line.trim().replace(/^>\s?/, ''));
  }
  flush();
  return blocks;
}

// `code`, **bold**, ![alt](url) and [text](url), in one pass; everything between them is plain text.
const INLINE = /`([^`]+)`|\*\*([^*]+)\*\*|(!?)\[([^\]]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;

function safeHref(url: string): string | undefined {
  return /^https?:\/\//i.test(url) ? url : undefined;
}

export function inline(text: string): Child[] {
  const out: Child[] = [];
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    at = m.index + m[0].length;
    if (m[1] !== undefined) out.push(<code>{m[1]}</code>);
    else if (m[2] !== undefined) out.push(<strong>{m[2]}</strong>);
    else if (m[3] === '!') out.push(m[4] ? `[${m[4]}]` : '');
    else {
      const href = safeHref(m[5] ?? '');
      out.push(href === undefined ? (m[4] ?? '') : <a href={href} rel="nofollow noopener noreferrer">{m[4] || href}</a>);
    }
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

export function Markdown(props: { text: string }) {
  return (
    <>
      {markdownBlocks(props.text).map((b) => {
        switch (b.kind) {
          case 'heading': {
            // The page already has h1/h2: a readme's own headings start at h3.
            const level = Math.min(b.level + 2, 6);
            if (level === 3) return <h3>{inline(b.text)}</h3>;
            if (level === 4) return <h4>{inline(b.text)}</h4>;
            if (level === 5) return <h5>{inline(b.text)}</h5>;
            return <h6>{inline(b.text)}</h6>;
          }
          case 'code':
            return (
              <pre>
                <code>{b.text}</code>
              </pre>
            );
          case 'list':
            return b.ordered ? <ol>{b.items.map((i) => <li>{inline(i)}</li>)}</ol> : <ul>{b.items.map((i) => <li>{inline(i)}</li>)}</ul>;
          case 'paragraph':
            return <p>{inline(b.text)}</p>;
        }
      })}
    </>
  );
}
