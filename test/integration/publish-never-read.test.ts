/**
 * A publish endpoint is never read through nugate (issue 8): a GET there would carry the upstream's credentials and
 * hand its answer to whoever asked. Upstream documents that name URLs under it (a registration page, a link) are not
 * followed, even when the publish endpoint lies under another resource base.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNugateInProcess } from '../helpers/inproc.ts';

test('a registration page named under the publish endpoint is never fetched', async () => {
  const seen: string[] = [];
  const feed = createServer((req, res) => {
    const base = `http://127.0.0.1:${(feed.address() as AddressInfo).port}`;
    seen.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v3/index.json') {
      res.end(
        JSON.stringify({
          version: '3.0.0',
          resources: [
            { '@id': `${base}/api/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
            { '@id': `${base}/api/flat/`, '@type': 'PackageBaseAddress/3.0.0' },
            { '@id': `${base}/api/v2/package`, '@type': 'PackagePublish/2.0.0' },
            { '@id': `${base}/api/vulnerabilities/index.json`, '@type': 'VulnerabilityInfo/6.7.0' },
          ],
        }),
      );
    } else if (req.url === '/api/reg/x.y/index.json') {
      res.end(JSON.stringify({ count: 1, items: [{ '@id': `${base}/api/v2/package/secret.json`, count: 1, lower: '1.0.0', upper: '1.0.0' }] }));
    } else if (req.url === '/api/vulnerabilities/index.json') {
      res.end(JSON.stringify([{ '@name': 'base', '@id': `${base}/api/v2/package/page.json`, '@updated': '2026-01-01T00:00:00Z' }]));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => feed.listen(0, '127.0.0.1', () => r()));
  const port = (feed.address() as AddressInfo).port;
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: `http://127.0.0.1:${port}/v3/index.json` }] });
  try {
    const reg = await fetch(`${ng.url}/v3/registration/x.y/index.json`);
    await reg.arrayBuffer();
    assert.notEqual(reg.status, 200);
    const index = (await (await fetch(`${ng.url}/v3/vulnerabilities/index.json`)).json()) as Array<{ '@id': string }>;
    for (const page of index) {
      const res = await fetch(page['@id']);
      await res.arrayBuffer();
      assert.equal(res.status, 404, 'a link to the publish endpoint leads nowhere');
    }
    assert.deepEqual(
      seen.filter((u) => u.startsWith('/api/v2/package')),
      [],
      'nothing under the publish endpoint was ever requested',
    );
  } finally {
    await ng.stop();
    feed.closeAllConnections();
    await new Promise<void>((r) => feed.close(() => r()));
  }
});
