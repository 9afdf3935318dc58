/**
 * Outbound traffic (issue 12): HTTP(S)_PROXY / NO_PROXY from the environment and a per-upstream `proxy` decide how
 * upstream requests leave nugate. A local CONNECT proxy records every tunnel and the port of every socket it opened;
 * the fake upstream records each request's peer port, so "went through the proxy" is proven per request. Proxy,
 * upstream and client credentials must reach only where they belong, and appear in no log line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { createApp } from '../../src/app.ts';
import { listen } from '../../src/server.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { secretValues } from '../../src/ops/secrets.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.ts';

const PROXY_USER = 'corp-user';
const PROXY_PASSWORD = 'pr0xy-p@ss!word';
const UPSTREAM_TOKEN = 'upstream-token-abcdef123';
const CLIENT_API_KEY = 'client-api-key-987654';
const CLIENT_BASIC = Buffer.from('reader:reader-password-xyz').toString('base64');
const PROXY_BASIC = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');

function proxyUrl(proxy: ConnectProxy): string {
  return `http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${proxy.port}`;
}

interface Started {
  url: string;
  logs: string[];
  stop(): Promise<void>;
}

/** nugate in process with the logger the real one builds (secret values from config and env), captured. */
async function start(upstream: FakeUpstream, env: NodeJS.ProcessEnv, extra: Partial<ConfigInput['upstreams'][number]> = {}): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-outbound-'));
  const fullEnv = { UPSTREAM_TOKEN, ...env };
  const config = parseConfig({
    upstreams: [{ name: 'feed', url: upstream.indexUrl, auth: { type: 'bearer', tokenEnv: 'UPSTREAM_TOKEN' }, ...extra }],
    cache: { dir, store: 'memory' },
    warm: { enabled: false },
    log: { level: 'debug' },
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = createLogger('debug', sink, { secrets: secretValues(config, fullEnv) });
  const nugate = await createApp({ config, log, env: fullEnv });
  const running = await listen(nugate, '127.0.0.1', 0);
  return {
    url: running.url,
    logs,
    async stop() {
      await running.stop(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const clientHeaders = { 'x-nuget-apikey': CLIENT_API_KEY, authorization: `Basic ${CLIENT_BASIC}`, 'x-nuget-session-id': '0b9a3c1e-1111-4222-8333-944455556666' };

/** A restore's worth of requests: index, versions, nupkg, registration, search. */
async function restoreLike(url: string): Promise<number[]> {
  const statuses: number[] = [];
  for (const path of ['/v3/index.json', '/v3/flatcontainer/contoso.lib/index.json', '/v3/flatcontainer/contoso.lib/1.0.0/contoso.lib.1.0.0.nupkg', '/v3/registration/contoso.lib/index.json', '/v3/search?q=contoso']) {
    const res = await fetch(`${url}${path}`, { headers: clientHeaders });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

function assertNoSecrets(logs: string[]): void {
  const text = logs.join('');
  for (const secret of [PROXY_PASSWORD, encodeURIComponent(PROXY_PASSWORD), PROXY_BASIC, `${PROXY_USER}:`, UPSTREAM_TOKEN, CLIENT_API_KEY, CLIENT_BASIC, 'reader-password-xyz']) {
    assert.ok(!text.includes(secret), `a log line holds the secret ${JSON.stringify(secret)}`);
  }
}

test('HTTP_PROXY: every upstream request goes through the proxy with the credentials of its URL, which no log line shows', async () => {
  const upstream = await startFakeUpstream([{ id: 'Contoso.Lib', version: '1.0.0' }]);
  const proxy = await startConnectProxy({ requireAuth: `Basic ${PROXY_BASIC}` });
  const nugate = await start(upstream, { HTTP_PROXY: proxyUrl(proxy) });
  try {
    assert.deepEqual(await restoreLike(nugate.url), [200, 200, 200, 200, 200]);
    assert.ok(upstream.requests.length >= 5, `upstream saw ${upstream.requests.length} requests`);
    for (const r of upstream.requests) {
      assert.ok(r.remotePort !== undefined && proxy.outboundPorts.has(r.remotePort), `${r.path} did not come through the proxy`);
      // The upstream's own credential still reaches it, inside the tunnel.
      assert.equal(r.headers.authorization, `Bearer ${UPSTREAM_TOKEN}`);
      assert.equal(r.headers['proxy-authorization'], undefined, 'proxy credentials never reach the upstream');
    }
    assert.ok(proxy.connects.length >= 1);
    for (const c of proxy.connects) assert.equal(c.proxyAuthorization, `Basic ${PROXY_BASIC}`);
    // The access line names the upstream contacted, with its status and time; a debug line per upstream request.
    const lines = nugate.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const versions = lines.find((l) => l.msg === 'request' && l.path === '/v3/flatcontainer/contoso.lib/index.json');
    assert.ok(versions, 'an access line for the version list');
    assert.equal(versions.level, 30, 'access lines are info');
    assert.equal(versions.session, clientHeaders['x-nuget-session-id']);
    assert.equal(versions.resource, 'flatcontainer');
    assert.equal(typeof versions.id, 'string');
    const contacted = versions.upstream as Array<{ name: string; status: number; ms: number }>;
    assert.ok(contacted.some((u) => u.name === 'feed' && u.status === 200 && typeof u.ms === 'number'), JSON.stringify(versions));
    assert.ok(lines.some((l) => l.msg === 'upstream request' && l.level === 20 && l.upstream === 'feed' && typeof l.bytes === 'number'));
    assertNoSecrets(nugate.logs);
  } finally {
    await nugate.stop();
    await proxy.close();
    await upstream.close();
  }
});

test('NO_PROXY bypasses the proxy', async () => {
  const upstream = await startFakeUpstream([{ id: 'Contoso.Lib', version: '1.0.0' }]);
  const proxy = await startConnectProxy();
  const nugate = await start(upstream, { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: 'example.org,127.0.0.1' });
  try {
    assert.deepEqual(await restoreLike(nugate.url), [200, 200, 200, 200, 200]);
    assert.ok(upstream.requests.length >= 5);
    assert.equal(proxy.connects.length, 0);
  } finally {
    await nugate.stop();
    await proxy.close();
    await upstream.close();
  }
});

test('a per-upstream proxy overrides the environment (and NO_PROXY)', async () => {
  const upstream = await startFakeUpstream([{ id: 'Contoso.Lib', version: '1.0.0' }]);
  const proxy = await startConnectProxy({ requireAuth: `Basic ${PROXY_BASIC}` });
  const nugate = await start(upstream, { HTTP_PROXY: 'http://127.0.0.1:1', NO_PROXY: '127.0.0.1' }, { proxy: proxyUrl(proxy) });
  try {
    assert.deepEqual(await restoreLike(nugate.url), [200, 200, 200, 200, 200]);
    for (const r of upstream.requests) assert.ok(r.remotePort !== undefined && proxy.outboundPorts.has(r.remotePort), `${r.path} did not come through the proxy`);
    assertNoSecrets(nugate.logs);
  } finally {
    await nugate.stop();
    await proxy.close();
    await upstream.close();
  }
});

test('a proxy refusing the credentials (407): the client learns only the upstream name, and no log line holds a secret', async () => {
  const upstream = await startFakeUpstream([{ id: 'Contoso.Lib', version: '1.0.0' }]);
  const proxy = await startConnectProxy({ requireAuth: 'Basic something-else' });
  const nugate = await start(upstream, { HTTP_PROXY: proxyUrl(proxy) });
  try {
    const res = await fetch(`${nugate.url}/v3/flatcontainer/contoso.lib/index.json`, { headers: clientHeaders });
    const body = await res.text();
    assert.ok(res.status >= 500, `status ${res.status}`);
    assert.ok(body.includes('feed'), body);
    for (const leak of ['127.0.0.1', String(proxy.port), String(new URL(upstream.origin).port), PROXY_USER]) assert.ok(!body.includes(leak), `the answer names ${leak}: ${body}`);
    assert.equal(upstream.requests.length, 0);
    assert.ok(proxy.connects.length >= 1);
    assertNoSecrets(nugate.logs);
  } finally {
    await nugate.stop();
    await proxy.close();
    await upstream.close();
  }
});
