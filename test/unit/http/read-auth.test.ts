import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { parseConfig } from '../../../src/config/load.ts';
import { readAuth } from '../../../src/http/read-auth.ts';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function app(read = true): Hono {
  const config = parseConfig({
    upstreams: [{ name: 'nuget', url: 'https://api.nuget.org/v3/index.json' }],
    auth: { read, realm: 'corp "feed"', users: [{ username: 'alice', passwordSha256: sha('wonderland') }] },
    publish: { keys: [{ name: 'ci', sha256: sha('ci-key') }] },
  });
  const a = new Hono();
  a.use('*', readAuth(config));
  a.get('/health', (c) => c.text('ok'));
  a.get('/v3/index.json', (c) => c.json({ version: '3.0.0' }));
  a.put('/v3/package/*', (c) => c.text('publish', 201));
  a.delete('/v3/package/:id/:version', (c) => c.text('unlisted'));
  a.get('/v3/flatcontainer/package/index.json', (c) => c.json({ versions: [] }));
  return a;
}

describe('readAuth', () => {
  it('challenges an anonymous request with 401 and WWW-Authenticate: Basic', async () => {
    const res = await app().request('/v3/index.json');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="corp \\"feed\\""');
    assert.match(await res.text(), /Authentication required/);
  });

  it('lets valid Basic credentials through', async () => {
    const res = await app().request('/v3/index.json', { headers: { authorization: basic('alice', 'wonderland') } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { version: '3.0.0' });
  });

  it('answers a bad password or unknown user with 401, never 403', async () => {
    for (const auth of [basic('alice', 'wrong'), basic('bob', 'wonderland'), 'Basic !!!', 'Bearer abc', basic('', '')]) {
      const res = await app().request('/v3/index.json', { headers: { authorization: auth } });
      assert.equal(res.status, 401, auth);
      assert.ok(res.headers.get('www-authenticate')?.startsWith('Basic realm='));
    }
  });

  it('accepts a publish key as X-NuGet-ApiKey or as the Basic password', async () => {
    assert.equal((await app().request('/v3/index.json', { headers: { 'x-nuget-apikey': 'ci-key' } })).status, 200);
    assert.equal((await app().request('/v3/index.json', { headers: { authorization: basic('anyone', 'ci-key') } })).status, 200);
    assert.equal((await app().request('/v3/index.json', { headers: { 'x-nuget-apikey': 'not-the-key' } })).status, 401);
  });

  it('leaves /health and the publish routes open', async () => {
    assert.equal((await app().request('/health')).status, 200);
    assert.equal((await app().request('/v3/package/', { method: 'PUT' })).status, 201);
    assert.equal((await app().request('/v3/package/Foo/1.0.0', { method: 'DELETE' })).status, 200);
  });

  it('does not open a read route whose path merely looks like a publish path', async () => {
    assert.equal((await app().request('/v3/flatcontainer/package/index.json')).status, 401);
  });

  it('does nothing when auth.read is off', async () => {
    assert.equal((await app(false).request('/v3/index.json')).status, 200);
  });
});
