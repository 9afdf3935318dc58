/**
 * Readmes come from upstreams: the Markdown subset renders headings, lists, code and links, and every bit of
 * HTML in the text comes out escaped; only http(s) links survive.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsx } from 'hono/jsx';
import { Markdown, markdownBlocks } from '../../../src/ui/markdown.tsx';

const render = async (text: string): Promise<string> => String(await jsx(Markdown, { text }).toString());

test('blocks: headings, paragraphs joined across lines, lists, fenced code kept verbatim', () => {
  assert.deepEqual(markdownBlocks('# Title\nline one\nline two\n\n- a\n- b\n1. c\n```\n<b>x</b>\n  y\n```'), [
    { kind: 'heading', level: 1, text: 'Title' },
    { kind: 'paragraph', text: 'line one line two' },
    { kind: 'list', ordered: false, items: ['a', 'b'] },
    { kind: 'list', ordered: true, items: ['c'] },
    { kind: 'code', text: '<b>x</b>\n  y' },
  ]);
});

test('HTML in a readme is text; headings start at h3; inline code, bold and https links render', async () => {
  const html = await render('# Hi <img src=x onerror=alert(1)>\n\n<script>alert(1)</script> **bold** `a<b` [docs](https://example.com/d?a=1&b=2)');
  assert.ok(!html.includes('<script'), html);
  assert.ok(!html.includes('<img'), html);
  assert.match(html, /<h3>Hi &lt;img src=x onerror=alert\(1\)&gt;<\/h3>/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /<strong>bold<\/strong>/);
  assert.match(html, /<code>a&lt;b<\/code>/);
  assert.match(html, /<a href="https:\/\/example.com\/d\?a=1&amp;b=2" rel="nofollow noopener noreferrer">docs<\/a>/);
});

test('javascript: and relative links lose their link; images show their alt text only', async () => {
  const html = await render('[click](javascript:alert(1)) [rel](/x) ![logo](https://example.com/logo.png)');
  assert.ok(!html.includes('<a '), html);
  assert.ok(!html.includes('javascript:'), html);
  assert.match(html, /click/);
  assert.match(html, /\[logo\]/);
  assert.ok(!html.includes('logo.png'), html);
});
