import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { upstreamSchema, type UpstreamConfig } from '../../../src/config/schema.ts';
import { credentialHeaderNames, mayCarryCredentials, redactHeaders, upstreamCredentialHeaders } from '../../../src/upstream/credentials.ts';

const upstream = (extra: Record<string, unknown> = {}): UpstreamConfig =>
  upstreamSchema.parse({ name: 'internal', url: 'https://feed.example.com/v3/index.json', ...extra });

describe('upstreamCredentialHeaders', () => {
  it('sends nothing for an upstream without auth or headers', () => {
    assert.deepEqual(upstreamCredentialHeaders(upstream(), {}), {});
  });

  it('builds Basic from the two env vars', () => {
    const h = upstreamCredentialHeaders(upstream({ auth: { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' } }), { U: 'alice', P: 's3cret:x' });
    assert.equal(h.authorization, `Basic ${Buffer.from('alice:s3cret:x').toString('base64')}`);
  });

  it('accepts an empty user name (Azure Artifacts style) but not an empty password', () => {
    const u = upstream({ auth: { type: 'basic', usernameEnv: 'U', passwordEnv: 'P' } });
    assert.equal(upstreamCredentialHeaders(u, { U: '', P: 'pat' }).authorization, `Basic ${Buffer.from(':pat').toString('base64')}`);
    assert.throws(() => upstreamCredentialHeaders(u, { U: 'x', P: '' }), /environment variable P \(auth\.passwordEnv\) is not set/);
  });

  it('builds Bearer and API-key headers', () => {
    assert.deepEqual(upstreamCredentialHeaders(upstream({ auth: { type: 'bearer', tokenEnv: 'T' } }), { T: 'tok' }), { authorization: 'Bearer tok' });
    assert.deepEqual(upstreamCredentialHeaders(upstream({ auth: { type: 'apiKey', tokenEnv: 'T' } }), { T: 'k' }), { 'x-nuget-apikey': 'k' });
    assert.deepEqual(upstreamCredentialHeaders(upstream({ auth: { type: 'apiKey', header: 'X-Api-Key', tokenEnv: 'T' } }), { T: 'k' }), { 'x-api-key': 'k' });
  });

  it('adds custom headers from env vars', () => {
    const h = upstreamCredentialHeaders(upstream({ auth: { type: 'bearer', tokenEnv: 'T' }, headers: { 'X-Tenant': { env: 'TENANT' } } }), { T: 't', TENANT: 'acme' });
    assert.deepEqual(h, { authorization: 'Bearer t', 'x-tenant': 'acme' });
  });

  it('throws an error naming the missing variable, never a value', () => {
    assert.throws(() => upstreamCredentialHeaders(upstream({ auth: { type: 'bearer', tokenEnv: 'FEED_TOKEN' } }), {}), (err: Error) => {
      assert.match(err.message, /upstream "internal": environment variable FEED_TOKEN \(auth\.tokenEnv\) is not set/);
      return true;
    });
    assert.throws(() => upstreamCredentialHeaders(upstream({ headers: { 'X-A': { env: 'A_ENV' } } }), {}), /A_ENV \(headers\.X-A\.env\)/);
  });

  it('refuses values that would split a header, without echoing them', () => {
    assert.throws(
      () => upstreamCredentialHeaders(upstream({ auth: { type: 'bearer', tokenEnv: 'T' } }), { T: 'abc\r\nX-Evil: 1' }),
      (err: Error) => !err.message.includes('abc') && /not allowed in an HTTP header/.test(err.message),
    );
  });

  it('refuses a custom header that would overwrite the auth header', () => {
    assert.throws(
      () => upstreamCredentialHeaders(upstream({ auth: { type: 'bearer', tokenEnv: 'T' }, headers: { Authorization: { env: 'X' } } }), { T: 't', X: 'x' }),
      /would overwrite/,
    );
  });
});

describe('mayCarryCredentials', () => {
  const u = { url: 'https://feed.example.com/v3/index.json' };
  it('allows the service index origin and the origins passed in', () => {
    assert.equal(mayCarryCredentials(u, 'https://feed.example.com/v3/flat/x/index.json', []), true);
    assert.equal(mayCarryCredentials(u, 'https://search.example.com/query', ['https://search.example.com']), true);
    assert.equal(mayCarryCredentials(u, 'https://search.example.com/query', ['https://search.example.com/some/base/']), true);
  });
  it('refuses any other host, port or scheme (a redirect target)', () => {
    assert.equal(mayCarryCredentials(u, 'https://blobs.example.net/signed?sig=1', []), false);
    assert.equal(mayCarryCredentials(u, 'https://feed.example.com:8443/x', []), false);
    assert.equal(mayCarryCredentials(u, 'http://feed.example.com/x', []), false);
    assert.equal(mayCarryCredentials(u, 'https://feed.example.com.evil.org/x', []), false);
    assert.equal(mayCarryCredentials(u, 'not a url', ['not a url']), false);
    assert.equal(mayCarryCredentials(u, 'ftp://feed.example.com/x', []), false);
  });
});

describe('redactHeaders', () => {
  it('hides credential headers whatever their case, and configured custom ones', () => {
    const out = redactHeaders(
      { Authorization: 'Basic abc', 'X-NuGet-ApiKey': 'k', cookie: 'c', 'x-tenant': 'acme', 'user-agent': 'NuGet', 'set-cookie': ['a', 'b'] },
      ['X-Tenant'],
    );
    assert.deepEqual(out, {
      Authorization: '[redacted]',
      'X-NuGet-ApiKey': '[redacted]',
      cookie: '[redacted]',
      'x-tenant': '[redacted]',
      'user-agent': 'NuGet',
      'set-cookie': '[redacted]',
    });
  });
  it('names the secret headers a config defines', () => {
    const names = credentialHeaderNames([upstream({ auth: { type: 'apiKey', header: 'X-Api-Key', tokenEnv: 'T' }, headers: { 'X-Tenant': { env: 'E' } } })]);
    assert.deepEqual(names.sort(), ['x-api-key', 'x-tenant']);
  });
});
