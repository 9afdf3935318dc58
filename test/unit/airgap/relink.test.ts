import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createRelinker } from '../../../src/airgap/relink.ts';
import { limiter } from '../../../src/airgap/pool.ts';
import { FEED_SENTINEL } from '../../../src/feed-urls.ts';
import { docKey } from '../../../src/sources/keys.ts';
import { createLinkSigner } from '../../../src/sources/links.ts';

test('link tokens of an exported cache are re-signed for the importing cache, in bodies and keys', () => {
  const exporter = createLinkSigner(randomBytes(32));
  const importer = createLinkSigner(randomBytes(32));
  const token = exporter.sign('nuget.org', 2, 'v3-vulnerabilities/2024/vulnerability.base.json');
  assert.equal(importer.verify('nuget.org', token), undefined, 'the importing key must not accept the exporter token');
  const relink = createRelinker(importer);
  const body = JSON.stringify([{ '@id': `${FEED_SENTINEL}raw/nuget.org/${token}`, other: `${FEED_SENTINEL}raw/elsewhere/${token}` }]);
  const [entry] = JSON.parse(relink.body('nuget.org', body)) as Array<{ '@id': string; other: string }>;
  assert.ok(entry);
  const newToken = entry['@id'].slice(`${FEED_SENTINEL}raw/nuget.org/`.length);
  assert.deepEqual(importer.verify('nuget.org', newToken), { slot: 2, rest: 'v3-vulnerabilities/2024/vulnerability.base.json' });
  assert.equal(entry.other, `${FEED_SENTINEL}raw/elsewhere/${token}`, 'another upstream’s links are left alone');
  assert.equal(relink.key(docKey('nuget.org', { type: 'link', token })), docKey('nuget.org', { type: 'link', token: newToken }));
  assert.equal(relink.key(docKey('nuget.org', { type: 'registration', id: 'xunit' })), 'reg:nuget.org:xunit');
});

test('limiter runs at most n jobs at once', async () => {
  const limit = limiter(3);
  let running = 0;
  let peak = 0;
  const job = async (): Promise<void> => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, 5));
    running--;
  };
  await Promise.all(Array.from({ length: 20 }, () => limit(job)));
  assert.equal(peak, 3);
  assert.throws(() => limiter(0), RangeError);
});
