/**
 * The redirect and address policy as pure functions: what an https upstream's redirects may do can be proven here
 * without serving https, and what a metadata address looks like in all its spellings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { guardedLookup, isForbiddenAddress, isForbiddenHost, redirectRefusal, FORBIDDEN_ADDRESS_CODE } from '../../../src/upstream/redirect-policy.ts';

const from = new URL('https://feed.example/v3/index.json');
const refusal = (to: string, allowed?: readonly string[], base: URL = from): string | undefined => redirectRefusal(base, new URL(to, base), allowed, base.origin);

describe('redirect policy', () => {
  it('never follows https to http (a downgrade), but http to https is fine', () => {
    assert.match(refusal('http://feed.example/v3/index.json') ?? '', /https to http/);
    assert.match(refusal('http://blob.example/x.nupkg') ?? '', /https to http/);
    assert.equal(refusal('https://feed.example/other', undefined, new URL('http://feed.example/')), undefined);
  });

  it('never follows to a non-http(s) scheme', () => {
    for (const to of ['file:///etc/passwd', 'ftp://feed.example/x', 'data:text/plain,hi', 'javascript:alert(1)', 'gopher://x/']) {
      assert.match(refusal(to) ?? '', /non-http\(s\)/, to);
    }
  });

  it('never follows to a link-local or metadata address, however it is spelled', () => {
    for (const to of [
      'https://169.254.169.254/latest/meta-data/',
      'https://169.254.1.1/',
      'https://2852039166/', // 169.254.169.254 as one number
      'https://0xa9.0xfe.0xa9.0xfe/',
      'https://[::ffff:169.254.169.254]/',
      'https://[fe80::1]/',
      'https://[fd00:ec2::254]/',
      'https://100.100.100.200/',
      'https://metadata.google.internal/computeMetadata/v1/',
      'https://METADATA.google.internal./',
    ]) {
      assert.match(refusal(to) ?? '', /link-local or metadata/, to);
    }
  });

  it('loopback and private addresses stay allowed (internal feeds, tests)', () => {
    for (const to of ['https://127.0.0.1:8080/', 'https://[::1]/', 'https://10.1.2.3/', 'https://192.168.1.10/', 'https://feeds.internal/']) {
      assert.equal(refusal(to), undefined, to);
    }
  });

  it('with allowed origins, only those (and the origin first asked) are followed', () => {
    const allowed = ['https://feed.example', 'https://search.feed.example'];
    assert.equal(refusal('/v3/moved', allowed), undefined, 'same origin');
    assert.equal(refusal('https://search.feed.example/q', allowed), undefined);
    assert.match(refusal('https://blob.example/x', allowed) ?? '', /outside the allowed/);
    assert.match(refusal('https://feed.example:8443/x', allowed) ?? '', /outside the allowed/, 'the port is part of the origin');
    assert.equal(refusal('https://feed.example/x', []), undefined, 'an empty list still allows the origin first asked');
    assert.match(refusal('https://blob.example/x', []) ?? '', /outside the allowed/);
  });

  it('without allowed origins, any origin the other rules allow', () => {
    assert.equal(refusal('https://blob.core.example/container/x.nupkg?sig=abc'), undefined);
  });

  it('refusal texts never carry the URL or host', () => {
    const texts = [refusal('http://secret-host.example/'), refusal('https://169.254.169.254/'), refusal('https://secret-host.example/', [])];
    for (const t of texts) {
      assert.ok(t);
      assert.doesNotMatch(t, /secret-host|169\.254|https?:\/\//);
    }
  });

  it('classifies addresses', () => {
    assert.equal(isForbiddenAddress('169.254.169.254'), true);
    assert.equal(isForbiddenAddress('::ffff:a9fe:a9fe'), true);
    assert.equal(isForbiddenAddress('fe80::abcd'), true);
    assert.equal(isForbiddenAddress('febf::1'), true, 'fe80::/10 ends at febf');
    assert.equal(isForbiddenAddress('fec0::1'), false);
    assert.equal(isForbiddenAddress('100.100.100.201'), false);
    assert.equal(isForbiddenAddress('127.0.0.1'), false);
    assert.equal(isForbiddenAddress('not-an-ip'), false);
    assert.equal(isForbiddenHost('[fe80::1]'), true);
    assert.equal(isForbiddenHost('metadata.google.internal.'), true);
    assert.equal(isForbiddenHost('example.com'), false);
  });

  it('gives a host the same verdict every time, past the bound of remembered hosts', () => {
    const hosts = Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? `169.254.${Math.floor(i / 256)}.${i % 256}` : i % 3 === 1 ? `[fe80::${i.toString(16)}]` : `feed${i}.example`));
    const first = hosts.map((h) => isForbiddenHost(h));
    assert.deepEqual(first, hosts.map((h) => !h.endsWith('.example')));
    for (let round = 0; round < 2; round++) assert.deepEqual(hosts.map((h) => isForbiddenHost(h)), first);
    assert.equal(isForbiddenHost('METADATA.google.internal'), true, 'case does not matter, remembered or not');
    assert.equal(isForbiddenHost('metadata.google.internal'), true);
  });
});

/** A resolver that knows a few names, answering in both of dns.lookup's shapes. */
function fakeResolver(names: Record<string, string[]>): { resolve: LookupFunction; asked: string[] } {
  const asked: string[] = [];
  const resolve: LookupFunction = (hostname, options, callback) => {
    asked.push(hostname);
    const addresses = names[hostname];
    if (addresses === undefined) {
      callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), '', 0);
      return;
    }
    const all: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    if (options.all) callback(null, all);
    else callback(null, all[0]?.address ?? '', all[0]?.family ?? 4);
  };
  return { resolve, asked };
}

function lookupOnce(lookup: LookupFunction, host: string, all: boolean): Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[] }> {
  return new Promise((resolve) => lookup(host, { all }, (err, address) => resolve({ err, address })));
}

describe('guardedLookup', () => {
  const { resolve, asked } = fakeResolver({
    'metadata.test': ['169.254.169.254'],
    'mixed.test': ['93.184.216.34', 'fe80::1'],
    'feed.test': ['127.0.0.1', '::1'],
  });
  const lookup = guardedLookup(resolve);

  it('refuses a name that resolves to a metadata address, in both answer shapes', async () => {
    for (const all of [false, true]) {
      const { err } = await lookupOnce(lookup, 'metadata.test', all);
      assert.equal(err?.code, FORBIDDEN_ADDRESS_CODE);
    }
  });

  it('refuses a name when any of its addresses is link-local', async () => {
    const { err } = await lookupOnce(lookup, 'mixed.test', true);
    assert.equal(err?.code, FORBIDDEN_ADDRESS_CODE);
  });

  it('refuses metadata.google.internal without asking DNS', async () => {
    const before = asked.length;
    const { err } = await lookupOnce(lookup, 'metadata.google.internal', false);
    assert.equal(err?.code, FORBIDDEN_ADDRESS_CODE);
    assert.equal(asked.length, before);
  });

  it('passes ordinary answers and resolver errors through unchanged', async () => {
    assert.deepEqual((await lookupOnce(lookup, 'feed.test', true)).address, [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    assert.equal((await lookupOnce(lookup, 'feed.test', false)).address, '127.0.0.1');
    assert.equal((await lookupOnce(lookup, 'nowhere.test', false)).err?.code, 'ENOTFOUND');
  });
});
