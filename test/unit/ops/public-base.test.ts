/**
 * A malformed Host header is a 400, never a 500 (issue 8). publicRoot() and the validRequestUrl() guard.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { publicRoot, validRequestUrl } from '../../../src/http/public-base.ts';
import { isNugateError } from '../../../src/errors.ts';

function app(trustProxy = false): Hono {
  const a = new Hono();
  a.use('*', validRequestUrl());
  a.get('*', (c) => c.text(publicRoot(c, { trustProxy })));
  a.onError((err, c) => (isNugateError(err) ? c.text(err.message, err.status as 400) : c.text('Internal error', 500)));
  return a;
}

// Each matches a host[:port] pattern, yet is no URL host: bad punycode, an empty IPv6, out-of-range port or IPv4.
const BAD = ['xn--a', 'xn--', 'a.xn--zz', '[:]', '1.2.3.4:65536', '999.1.1.1', '0x1.0x2.0x3.0x4.5', 'a b', 'evil.example/x?y', 'a@b'];

describe('validRequestUrl + publicRoot', () => {
  it('answers 400 with a short text for a Host that is no URL host', async () => {
    for (const host of BAD) {
      const res = await app().request('http://localhost/v3/index.json', { headers: { host } });
      assert.equal(res.status, 400, host);
      assert.equal(await res.text(), 'invalid Host header');
    }
  });

  it('publicRoot alone refuses them too (it may be called without the guard)', () => {
    for (const host of BAD) {
      const c = { req: { url: 'http://localhost/', header: (name: string) => (name === 'host' ? host : undefined) } };
      assert.throws(
        () => publicRoot(c as unknown as Parameters<typeof publicRoot>[0], { trustProxy: false }),
        (err: unknown) => isNugateError(err) && err.status === 400,
        host,
      );
    }
  });

  it('refuses a bad X-Forwarded-Host when proxies are trusted', async () => {
    const res = await app(true).request('http://localhost/v3/index.json', { headers: { host: 'localhost', 'x-forwarded-host': 'xn--a' } });
    assert.equal(res.status, 400);
  });

  it('lets good hosts through unchanged', async () => {
    for (const [host, root] of [
      ['nuget.example.com', 'http://nuget.example.com/'],
      ['NuGet.Example.com:8080', 'http://nuget.example.com:8080/'],
      ['127.0.0.1:5000', 'http://127.0.0.1:5000/'],
      ['[::1]:5000', 'http://[::1]:5000/'],
      ['xn--bcher-kva.example', 'http://xn--bcher-kva.example/'],
    ]) {
      const res = await app().request('http://localhost/v3/index.json', { headers: { host: host as string } });
      assert.equal(res.status, 200, host);
      assert.equal(await res.text(), root);
    }
  });
});
