import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { forward } from '../../../src/publish/forward.ts';

describe('forward (the bounded publish request)', { timeout: 20_000 }, () => {
  let server: Server;
  let origin: string;
  let connections = 0;
  const agent = new Agent();

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/drip') {
          // Headers, then one byte every 100 ms for ever: each read is quick, the whole never ends.
          res.writeHead(500, 'Drip', { 'content-type': 'text/plain' });
          const timer = setInterval(() => res.write('x'), 100);
          res.on('close', () => clearInterval(timer));
        } else if (req.url === '/flood') {
          res.writeHead(400, 'Flood');
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          const pump = (): void => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
        } else {
          res.writeHead(201, 'Created by test');
          res.end();
        }
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await agent.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('relays status and reason phrase', async () => {
    const res = await forward(agent, { url: `${origin}/ok`, method: 'DELETE', headers: {}, timeout: 5000 });
    assert.equal(res.status, 201);
    assert.equal(res.statusMessage, 'Created by test');
  });

  it('stops waiting for an answer body that never ends, and keeps its status', async () => {
    const started = Date.now();
    const res = await forward(agent, { url: `${origin}/drip`, method: 'PUT', headers: {}, timeout: 400 });
    assert.equal(res.status, 500);
    assert.ok(res.body.length > 0 && res.body.length < 100);
    assert.ok(Date.now() - started < 5000, 'does not hang');
  });

  it('keeps at most maxBody bytes of an endless answer and stops reading it', async () => {
    const res = await forward(agent, { url: `${origin}/flood`, method: 'PUT', headers: {}, timeout: 5000 }, 1000);
    assert.equal(res.status, 400);
    assert.equal(res.body.length, 1000);
  });

  it('never connects to a link-local or metadata address', async () => {
    const before = connections;
    await assert.rejects(forward(agent, { url: 'http://169.254.169.254/api/v2/package/', method: 'PUT', headers: {}, timeout: 1000 }), /metadata address refused/);
    assert.equal(connections, before);
  });
});
