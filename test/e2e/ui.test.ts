/**
 * The web UI in a real headless Chromium (Debian's `chromium`, driven by playwright-core; never a downloaded
 * browser): home → search → package page → a version's page with the explain answer. Two loopback upstreams
 * serve one id together, so the package page must say which upstream serves each version; a version becomes
 * "cached" once its package was downloaded through nugate. Upstream texts carry markup that must show as text.
 * Every page is checked for console errors and for the upstreams' addresses, and screenshotted into
 * test-artifacts/ui/ (look at them).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';
import { REPO_ROOT } from '../helpers/nugate-process.ts';
import { startUiFeed, type UiFeed } from '../helpers/ui-feed.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'ui');
const README = [
  '# Contoso Widgets',
  '',
  'Widgets for **every** app. Call `Widget.Make()`; see [the docs](https://example.com/docs).',
  '',
  '<script>window.__pwned = 1; alert("pwned")</script>',
  '',
  '- fast',
  '- small',
  '',
  '```csharp',
  'var w = Widget.Make();',
  '```',
].join('\n');

async function launch(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; test/setup/ensure-tools.sh does it as root)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** Records console errors, page errors, dialogs (an executed script would open one) and every page's HTML. */
function watch(page: Page): { problems: string[]; html: string[] } {
  const problems: string[] = [];
  const html: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog opened: ${d.message()}`);
    void d.dismiss();
  });
  page.on('load', () => {
    void page.content().then(
      (h) => html.push(h),
      () => undefined,
    );
  });
  return { problems, html };
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

test('web UI in Chromium: home, search, package page with provenance and cache state, explain', { timeout: 180_000 }, async (t) => {
  const internal: UiFeed = await startUiFeed([
    {
      id: 'Contoso.Widgets',
      version: '1.0.0',
      description: 'Widgets, the old line <img src=x onerror="alert(1)">',
      dependencies: [{ framework: 'net8.0', id: 'Contoso.Core', range: '[1.0.0, )' }],
      deprecation: { reasons: ['Legacy'], message: 'Use 2.x', alternatePackage: { id: 'Contoso.Widgets', range: '[2.0.0, )' } },
      vulnerabilities: [{ advisoryUrl: 'https://github.com/advisories/GHSA-xxxx-yyyy-zzzz', severity: '2' }],
    },
  ]);
  t.after(() => internal.close());
  const pub: UiFeed = await startUiFeed([
    {
      id: 'Contoso.Widgets',
      version: '2.0.0',
      description: 'Widgets for every app',
      readme: README,
      dependencies: [
        { framework: 'net8.0', id: 'Contoso.Core', range: '[1.0.0, )' },
        { framework: 'netstandard2.0', id: 'Contoso.Core', range: '[1.0.0, )' },
      ],
    },
    { id: 'Contoso.Core', version: '1.0.0', description: 'The core' },
  ]);
  t.after(() => pub.close());
  const nugate: Running = await startNugateInProcess({ upstreams: [{ name: 'internal', url: internal.indexUrl }, { name: 'public', url: pub.indexUrl }] });
  t.after(() => nugate.stop());

  const browser = await launch();
  t.after(() => browser.close());
  const context: BrowserContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const seen = watch(page);

  // Home: how to connect this very instance.
  const home = await page.goto(`${nugate.url}/`);
  assert.equal(home?.status(), 200);
  assert.equal(await page.textContent('#add-source'), `dotnet nuget add source ${nugate.url}/v3/index.json -n nugate --allow-insecure-connections`);
  const config = (await page.textContent('#nuget-config')) ?? '';
  assert.match(config, /<clear \/>/);
  assert.match(config, /<packageSourceMapping>[\s\S]*<package pattern="\*" \/>/);
  assert.deepEqual(await page.locator('#upstreams tbody td:first-child').allTextContents(), ['internal', 'public']);
  await shot(page, '1-home');

  // Search from the header box: the merged feed finds the id both upstreams serve.
  await page.fill('header input[name=q]', 'widgets');
  await Promise.all([page.waitForURL(/\/ui\/search\?q=widgets/), page.click('header button[type=submit]')]);
  assert.match((await page.textContent('#total-hits')) ?? '', /^1 package/);
  await shot(page, '2-search');

  // The package page: newest first, each version with the upstream that serves it; nothing cached yet.
  await Promise.all([page.waitForURL(/\/ui\/packages\/Contoso\.Widgets$/), page.click('a.package-link')]);
  const rows = page.locator('#versions tbody tr');
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-version'))), ['2.0.0', '1.0.0']);
  assert.deepEqual(await page.locator('#versions tbody tr td:nth-child(2)').allTextContents(), ['public', 'internal']);
  assert.deepEqual(await page.locator('#versions tbody tr td:nth-child(3)').allTextContents(), ['not cached', 'not cached']);
  // The latest stable version is shown: its readme, as text (the <script> is visible, not run).
  assert.equal(await page.textContent('#readme h3'), 'Contoso Widgets');
  assert.match((await page.textContent('#readme')) ?? '', /<script>window\.__pwned = 1;/);
  assert.equal(await page.locator('#readme script').count(), 0);
  assert.equal(await page.textContent('#readme pre code'), 'var w = Widget.Make();');
  assert.deepEqual(await page.locator('#dependencies h3').allTextContents(), ['net8.0', 'netstandard2.0']);
  await shot(page, '3-package');

  // Download 1.0.0 through nugate: the page now says it is cached.
  const nupkg = await fetch(`${nugate.url}/v3/flatcontainer/contoso.widgets/1.0.0/contoso.widgets.1.0.0.nupkg`);
  assert.equal(nupkg.status, 200);
  await nupkg.arrayBuffer();
  await page.reload();
  assert.deepEqual(await page.locator('#versions tbody tr td:nth-child(3)').allTextContents(), ['not cached', 'cached']);

  // A version's page: flags from the registration and the explain answer in words.
  await Promise.all([page.waitForURL(/\/ui\/packages\/contoso\.widgets\/1\.0\.0$/), page.click('#versions a[href$="/1.0.0"]')]);
  assert.match((await page.textContent('#deprecation')) ?? '', /Deprecated \(Legacy\): Use 2\.x\. Suggested instead: Contoso\.Widgets \[2\.0\.0, \)/);
  assert.match((await page.textContent('#vulnerabilities')) ?? '', /high/);
  assert.match((await page.textContent('#served-by')) ?? '', /Version 1\.0\.0 is served by internal\./);
  assert.match((await page.textContent('#explain')) ?? '', /Eligible upstreams, in priority order: internal, public/);
  // The description's markup is text too.
  assert.match((await page.textContent('main')) ?? '', /<img src=x onerror="alert\(1\)">/);
  await shot(page, '4-version-explain');

  // A dependency link leads to that package's page.
  await Promise.all([page.waitForURL(/\/ui\/packages\/Contoso\.Core$/), page.click('#dependencies a')]);
  assert.deepEqual(await page.locator('#versions tbody tr td:nth-child(2)').allTextContents(), ['public']);

  // Back home: the download shows in the recent activity, and metadata answers give a hit ratio.
  for (let i = 0; i < 2; i++) {
    const reg = await fetch(`${nugate.url}/v3/registration/contoso.core/index.json`);
    assert.equal(reg.status, 200);
    await reg.arrayBuffer();
  }
  await page.goto(`${nugate.url}/`);
  assert.match((await page.textContent('#hit-ratio')) ?? '', /^\d{1,3}\.\d %$/);
  assert.match((await page.textContent('#activity')) ?? '', /\/v3\/flatcontainer\/contoso\.widgets\/1\.0\.0\/contoso\.widgets\.1\.0\.0\.nupkg/);
  await shot(page, '5-home-after');

  assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, 'no upstream text ran as script');
  assert.deepEqual(seen.problems, []);
  assert.ok(seen.html.length >= 6, `pages captured: ${seen.html.length}`);
  for (const html of seen.html) {
    for (const up of [internal, pub]) assert.ok(!html.includes(`127.0.0.1:${up.port}`), `a page names an upstream address (${up.origin})`);
  }
});

/**
 * True when Chromium could not show the page for want of good credentials: it either shows the 401 or, having
 * nobody to ask (headless), fails the navigation with ERR_INVALID_AUTH_CREDENTIALS.
 */
async function refusedNavigation(page: Page, url: string): Promise<boolean> {
  try {
    return (await page.goto(url))?.status() === 401;
  } catch (err) {
    if (/ERR_INVALID_AUTH_CREDENTIALS/.test(String(err))) return true;
    throw err;
  }
}

test('web UI behind auth.read asks the browser for credentials, then works', { timeout: 120_000 }, async (t) => {
  const feed = await startUiFeed([{ id: 'Contoso.Widgets', version: '1.0.0' }]);
  t.after(() => feed.close());
  const password = 'ui-secret-password';
  const nugate = await startNugateInProcess({
    upstreams: [{ name: 'internal', url: feed.indexUrl }],
    auth: { read: true, realm: 'nugate ui', users: [{ username: 'reader', passwordSha256: createHash('sha256').update(password).digest('hex') }] },
  });
  t.after(() => nugate.stop());
  const browser = await launch();
  t.after(() => browser.close());

  // Anonymous: every page answers 401 with the Basic challenge that makes a browser ask for a user and password
  // (headless Chromium has no one to ask and fails the navigation).
  const anonymous = await browser.newContext();
  for (const path of ['/', '/ui/search?q=widgets', '/ui/packages/contoso.widgets', '/ui/packages/contoso.widgets/1.0.0']) {
    const res = await anonymous.request.get(`${nugate.url}${path}`);
    assert.equal(res.status(), 401, `anonymous ${path}`);
    assert.equal(res.headers()['www-authenticate'], 'Basic realm="nugate ui"');
    assert.doesNotMatch(await res.text(), /Contoso|nuget add source/);
  }
  assert.equal(await refusedNavigation(await anonymous.newPage(), `${nugate.url}/`), true);

  const wrong = await (await browser.newContext({ httpCredentials: { username: 'reader', password: 'nope' } })).newPage();
  assert.equal(await refusedNavigation(wrong, `${nugate.url}/`), true);

  const page = await (await browser.newContext({ httpCredentials: { username: 'reader', password } })).newPage();
  const seen = watch(page);
  assert.equal((await page.goto(`${nugate.url}/`))?.status(), 200);
  assert.match((await page.textContent('#add-source')) ?? '', /--username YOUR_USER --password YOUR_PASSWORD/);
  assert.match((await page.textContent('#nuget-config')) ?? '', /<packageSourceCredentials>/);
  const search = await page.goto(`${nugate.url}/ui/search?q=widgets`);
  assert.equal(search?.status(), 200);
  assert.match((await page.textContent('#total-hits')) ?? '', /^1 package/);
  await shot(page, '6-auth-search');
  assert.deepEqual(seen.problems, []);
  // Credentials never show on a page.
  for (const html of seen.html) assert.ok(!html.includes(password));
});
