import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spoolFirstPart, type SpoolResult } from '../../../src/publish/spool.ts';
import { drainRequest } from '../../../src/publish/drain.ts';

describe('spoolFirstPart', { timeout: 20_000 }, () => {
  let server: Server;
  let dir: string;
  let url: string;
  let results: Array<{ result: SpoolResult; content?: Buffer; drained?: boolean }>;
  let settled: (() => void) | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nugate-spool-'));
    results = [];
    server = createServer(async (req, res) => {
      let result: SpoolResult;
      try {
        result = await spoolFirstPart(req, { dir, maxSize: Number(req.headers['x-test-max'] ?? 1000), idleTimeout: Number(req.headers['x-test-idle'] ?? 10_000) });
      } catch (err) {
        res.end(`threw ${(err as Error).message}`);
        return;
      }
      const entry: { result: SpoolResult; content?: Buffer; drained?: boolean } = { result };
      if (result.kind === 'ok') {
        entry.content = await readFile(result.file.path);
        await rm(result.file.path);
      }
      if (result.kind === 'tooLarge') entry.drained = await drainRequest(req, { maxBytes: 1_000_000, maxMs: 5000 });
      results.push(entry);
      settled?.();
      if (!res.destroyed) res.end(result.kind);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  const post = (contentType: string, chunks: Buffer[], max = 1000): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: { 'content-type': contentType, 'x-test-max': String(max) } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      for (const c of chunks) req.write(c);
      req.end();
    });

  it('keeps the first part whatever its name and ignores the rest', async () => {
    const body = Buffer.from(
      '--xx\r\nContent-Disposition: form-data; name="whatever"\r\n\r\nFIRST-PART\r\n' +
        '--xx\r\nContent-Disposition: form-data; name="package"; filename="package.nupkg"\r\n\r\nSECOND\r\n--xx--\r\n',
    );
    assert.equal(await post('multipart/form-data; boundary=xx', [body.subarray(0, 30), body.subarray(30)]), 'ok');
    assert.equal(results.at(-1)?.content?.toString(), 'FIRST-PART');
    assert.deepEqual(await readdir(dir), []);
  });

  it('reports tooLarge past the cap and leaves no temp file; the rest can be drained', async () => {
    const body = Buffer.concat([
      Buffer.from('--xx\r\nContent-Disposition: form-data; name="package"; filename="p"\r\n\r\n'),
      Buffer.alloc(5000, 1),
      Buffer.from('\r\n--xx--\r\n'),
    ]);
    assert.equal(await post('multipart/form-data; boundary=xx', [body]), 'tooLarge');
    assert.equal(results.at(-1)?.drained, true);
    assert.deepEqual(await readdir(dir), []);
  });

  it('stops cleanly when the cap hits while a file write is in flight (regression: ERR_STREAM_DESTROYED became a 500)', async () => {
    const pkg = await readFile('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg');
    const head = Buffer.from('--xx\r\nContent-Disposition: form-data; name="package"; filename="p"\r\n\r\n');
    for (const max of [100_000, 250_000, 500_000, 1_000_000, 1_500_000]) {
      const chunks = [head];
      for (let i = 0; i < pkg.length; i += 16 * 1024) chunks.push(pkg.subarray(i, i + 16 * 1024));
      chunks.push(Buffer.from('\r\n--xx--\r\n'));
      assert.equal(await post('multipart/form-data; boundary=xx', chunks, max), 'tooLarge');
    }
    assert.deepEqual(await readdir(dir), []);
  });

  it('reports noFile, and badBody for a truncated or non-multipart body', async () => {
    assert.equal(await post('multipart/form-data; boundary=xx', [Buffer.from('--xx--\r\n')]), 'noFile');
    assert.equal(await post('multipart/form-data; boundary=xx', [Buffer.from('--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\nabc')]), 'badBody');
    assert.equal(await post('application/json', [Buffer.from('{}')]), 'badBody');
    assert.deepEqual(await readdir(dir), []);
  });

  it('reports aborted when the client goes away mid-upload, and removes the temp file', async () => {
    const done = new Promise<void>((r) => (settled = r));
    const req = request(url, { method: 'PUT', headers: { 'content-type': 'multipart/form-data; boundary=xx' } });
    req.on('error', () => {});
    req.write('--xx\r\nContent-Disposition: form-data; name="package"; filename="p"\r\n\r\n');
    req.write(Buffer.alloc(100, 2));
    await new Promise((r) => setTimeout(r, 50));
    req.destroy();
    await done;
    settled = undefined;
    assert.equal(results.at(-1)?.result.kind, 'aborted');
    assert.deepEqual(await readdir(dir), []);
  });

  it('reports stalled when the body pauses longer than idleTimeout, with the temp file already gone', async () => {
    const done = new Promise<void>((r) => (settled = r));
    const req = request(url, { method: 'PUT', headers: { 'content-type': 'multipart/form-data; boundary=xx', 'x-test-idle': '200' } });
    req.on('error', () => {});
    req.write('--xx\r\nContent-Disposition: form-data; name="package"; filename="p"\r\n\r\n');
    req.write(Buffer.alloc(100, 2));
    // Then nothing: the client neither finishes nor goes away.
    await done;
    settled = undefined;
    assert.equal(results.at(-1)?.result.kind, 'stalled');
    assert.deepEqual(await readdir(dir), []);
    req.destroy();
  });

  it('keeps a slow body that never pauses as long as idleTimeout', async () => {
    const head = Buffer.from('--xx\r\nContent-Disposition: form-data; name="package"; filename="p"\r\n\r\n');
    const answer = new Promise<string>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: { 'content-type': 'multipart/form-data; boundary=xx', 'x-test-idle': '400' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write(head);
      let sent = 0;
      // Ten pieces 100 ms apart: a whole second in all, far past idleTimeout, but never a long pause.
      const timer = setInterval(() => {
        req.write(Buffer.alloc(10, 3));
        if (++sent === 10) {
          clearInterval(timer);
          req.end('\r\n--xx--\r\n');
        }
      }, 100);
    });
    assert.equal(await answer, 'ok');
    assert.equal(results.at(-1)?.content?.length, 100);
  });
});
