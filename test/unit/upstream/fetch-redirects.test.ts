/**
 * Redirects through the real fetch (issue 8: a 302 to another origin or an internal address was followed, returned
 * and cached). Two upstreams on 127.0.0.1 play the feed and "somewhere else"; a spy on the dispatcher records
 * every origin nugate actually dispatched to, so "refused" means "never sent".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LookupFunction } from 'node:net';
import type { Dispatcher } from 'undici';
import type { UpstreamError, UpstreamFailure } from '../../../src/errors.ts';
import { createDispatcher, fetchBuffer, fetchStream, type FetchRequest } from '../../../src/upstream/http.ts';
import { fetchRequest, rejectsWith as failsWith } from '../../helpers/upstream-failures.ts';
import { json, raw, redirect, startHostileUpstream, type HostileUpstream } from '../../helpers/hostile-upstream.ts';

function request(url: string, over: Partial<FetchRequest> = {}): FetchRequest {
  return fetchRequest('feed', url, { timeoutMs: 3_000, maxBytes: 1024 * 1024 }, over);
}

/** Every error message seen in this file, checked at the end for addresses and URLs. */
const messages: string[] = [];

async function rejectsWith(p: Promise<unknown>, reason: UpstreamFailure): Promise<UpstreamError> {
  const err = await failsWith(p, reason);
  messages.push(err.message);
  return err;
}

/** Names the tests can resolve: one onto the metadata address, one onto loopback (the guard's control). */
const NAMES: Record<string, string> = { 'metadata.test': '169.254.169.254', 'loopback.test': '127.0.0.1' };
const resolved: string[] = [];
const fakeLookup: LookupFunction = (hostname, options, callback) => {
  resolved.push(hostname);
  const address = NAMES[hostname];
  if (address === undefined) callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), '', 0);
  else if (options.all) callback(null, [{ address, family: 4 }]);
  else callback(null, address, 4);
};

describe('redirects through fetchBuffer / fetchStream', () => {
  let feed: HostileUpstream;
  let other: HostileUpstream;
  let agent: Dispatcher;
  let dispatcher: Dispatcher;
  /** Origins handed to the connection pool, in order. */
  const dispatched: string[] = [];

  before(async () => {
    feed = await startHostileUpstream();
    other = await startHostileUpstream();
    agent = createDispatcher({ lookup: fakeLookup });
    dispatcher = agent.compose((dispatch) => (opts, handler) => {
      dispatched.push(String(opts.origin));
      return dispatch(opts, handler);
    });
    other.route('/doc.json', json({ from: 'other' }));
    other.route('/blob/pkg.nupkg', raw(Buffer.from('PK-zip-bytes'), { 'content-type': 'application/octet-stream' }));
  });
  after(async () => {
    await agent.close();
    await feed.close();
    await other.close();
    const leaks = messages.filter((m) => /127\.0\.0\.1|169\.254|localhost|\.test\b|https?:|\/\//.test(m) || m.includes(String(new URL(feed.origin).port)));
    assert.deepEqual(leaks, [], 'no error message names a URL, host, address or port');
  });

  it('JSON: a redirect to another origin is refused and never sent', async () => {
    feed.route('/index.json', redirect(other.url('/doc.json')));
    const before = other.count('/doc.json');
    await rejectsWith(fetchBuffer(dispatcher, request(feed.url('/index.json'), { redirectOrigins: [feed.origin] })), 'redirect');
    assert.equal(other.count('/doc.json'), before, 'the other origin saw nothing');
  });

  it('JSON: a redirect inside the allowed origins is followed', async () => {
    feed.route('/moved.json', redirect('/index-v2.json', 301));
    feed.route('/index-v2.json', json({ version: '3.0.0' }));
    const res = await fetchBuffer(dispatcher, request(feed.url('/moved.json'), { redirectOrigins: [feed.origin] }));
    assert.equal(res.status, 200);
    assert.equal(res.url, feed.url('/index-v2.json'));
    feed.route('/to-other.json', redirect(other.url('/doc.json')));
    const listed = await fetchBuffer(dispatcher, request(feed.url('/to-other.json'), { redirectOrigins: [feed.origin, other.origin] }));
    assert.equal(listed.status, 200, 'another origin is fine once it is listed');
    assert.deepEqual(JSON.parse(listed.body.toString()), { from: 'other' });
  });

  it('a package file may leave the upstream when no redirectOrigins are given (blob storage)', async () => {
    feed.route('/flat/pkg.nupkg', redirect(other.url('/blob/pkg.nupkg?sig=signed'), 302));
    const res = await fetchStream(dispatcher, request(feed.url('/flat/pkg.nupkg')));
    assert.equal(res.status, 200);
    let body = '';
    for await (const chunk of res.body) body += (chunk as Buffer).toString();
    assert.equal(body, 'PK-zip-bytes');
    assert.equal(res.url, other.url('/blob/pkg.nupkg?sig=signed'));
  });

  it('a package file may not go to an origin missing from redirectOrigins', async () => {
    const before = other.count('/blob/');
    await rejectsWith(fetchStream(dispatcher, request(feed.url('/flat/pkg.nupkg'), { redirectOrigins: [feed.origin] })), 'redirect');
    assert.equal(other.count('/blob/'), before);
  });

  it('credentials go to their origin only, never across a redirect to another one, nor back from it', async () => {
    feed.route('/auth/pkg.nupkg', redirect(other.url('/bounce')));
    other.route('/bounce', redirect(feed.url('/auth/landed.nupkg')));
    feed.route('/auth/landed.nupkg', raw(Buffer.from('PK'), { 'content-type': 'application/octet-stream' }));
    const credentials = { authorization: 'Bearer s3cret', 'x-tenant': 'acme' };
    const res = await fetchStream(dispatcher, request(feed.url('/auth/pkg.nupkg'), { credentials, credentialOrigins: [feed.origin] }));
    res.body.resume();
    const first = feed.requests.find((r) => r.path === '/auth/pkg.nupkg');
    const bounce = other.requests.find((r) => r.path === '/bounce');
    const landed = feed.requests.find((r) => r.path === '/auth/landed.nupkg');
    assert.equal(first?.headers.authorization, 'Bearer s3cret', 'the upstream itself gets them');
    assert.equal(bounce?.headers.authorization, undefined, 'no Authorization on the other origin');
    assert.equal(bounce?.headers['x-tenant'], undefined, 'no custom credential header on the other origin');
    // The path back was chosen by the other host: it must not get to steer credentials.
    assert.equal(landed?.headers.authorization, undefined, 'not even when it redirects back to the upstream');
  });

  it('redirects to a metadata IP literal are refused without connecting', async () => {
    feed.route('/imds', redirect('http://169.254.169.254/latest/meta-data/iam/security-credentials/'));
    feed.route('/imds-v6', redirect('http://[fd00:ec2::254]/latest/meta-data/'));
    feed.route('/imds-alibaba', redirect('http://100.100.100.200/latest/meta-data/'));
    feed.route('/imds-gcp', redirect('http://metadata.google.internal/computeMetadata/v1/'));
    const started = Date.now();
    for (const path of ['/imds', '/imds-v6', '/imds-alibaba', '/imds-gcp']) {
      await rejectsWith(fetchBuffer(dispatcher, request(feed.url(path))), 'redirect');
      await rejectsWith(fetchStream(dispatcher, request(feed.url(path))), 'redirect');
    }
    assert.ok(Date.now() - started < 2_000, 'no connection attempt (one would hang on this machine)');
    assert.deepEqual(
      dispatched.filter((o) => !o.startsWith(feed.origin) && !o.startsWith(other.origin)),
      [],
      'only the two test upstreams were ever dispatched to',
    );
  });

  it('a redirect to a host NAME that resolves to a metadata address is refused at connect time', async () => {
    const port = new URL(other.origin).port;
    feed.route('/dns-imds', redirect(`http://metadata.test:${port}/doc.json`));
    feed.route('/dns-ok', redirect(`http://loopback.test:${port}/doc.json`));
    const before = other.count('/doc.json');
    await rejectsWith(fetchBuffer(dispatcher, request(feed.url('/dns-imds'))), 'redirect');
    assert.equal(other.count('/doc.json'), before, 'nothing reached the address behind the name');
    assert.ok(resolved.includes('metadata.test'), 'the guard saw the name');
    // Control: the same path through a name that resolves to loopback works, so the guard is what refused.
    const ok = await fetchBuffer(dispatcher, request(feed.url('/dns-ok')));
    assert.equal(ok.status, 200);
    assert.equal(other.count('/doc.json'), before + 1);
    // And asked directly (no redirect), the same name is a refused connection.
    await rejectsWith(fetchBuffer(dispatcher, request(`http://metadata.test:${port}/doc.json`)), 'connect');
  });

  it('a direct request to a metadata IP literal is refused before dispatching', async () => {
    const before = dispatched.length;
    await rejectsWith(fetchBuffer(dispatcher, request('http://169.254.169.254/latest/meta-data/')), 'connect');
    assert.equal(dispatched.length, before);
  });

  it('non-http(s) redirects are refused', async () => {
    feed.route('/to-file', redirect('file:///etc/passwd'));
    await rejectsWith(fetchBuffer(dispatcher, request(feed.url('/to-file'))), 'redirect');
  });

  it('at most 5 redirects are followed', async () => {
    for (let i = 0; i < 7; i++) feed.route(`/hop${i}`, redirect(`/hop${i + 1}`));
    feed.route('/hop5', json({ arrived: true }));
    const five = await fetchBuffer(dispatcher, request(feed.url('/hop0')));
    assert.equal(five.status, 200, 'five hops are fine');
    feed.route('/loop', redirect('/loop'));
    const before = feed.count('/loop');
    const err = await rejectsWith(fetchBuffer(dispatcher, request(feed.url('/loop'))), 'redirect');
    assert.match(err.message, /too many redirects/);
    assert.equal(feed.count('/loop') - before, 6, 'the first request and five redirects, then stop');
  });

  it('a connection refused is a connect failure that names no address', async () => {
    const gone = await startHostileUpstream();
    const url = gone.url('/index.json');
    await gone.close();
    const err = await rejectsWith(fetchBuffer(dispatcher, request(url)), 'connect');
    assert.doesNotMatch(err.message, /127\.0\.0\.1|:\d{2,5}\b/);
  });
});
