import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { multipartFromFile } from '../../../src/publish/multipart.ts';
import { parseSinglePart } from '../../helpers/fake-publish-upstream.ts';

describe('multipartFromFile', () => {
  it('wraps the file in one "package" part whose bytes and declared length are exact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nugate-mp-'));
    try {
      const bytes = randomBytes(700_000);
      const path = join(dir, 'p.nupkg');
      await writeFile(path, bytes);
      const mp = multipartFromFile(path, bytes.length);
      const chunks: Buffer[] = [];
      for await (const c of mp.body) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      assert.equal(body.length, mp.contentLength);
      const part = parseSinglePart(mp.contentType, body);
      assert.ok(part);
      assert.match(part.headers, /Content-Disposition: form-data; name="package"; filename="package.nupkg"/);
      assert.match(part.headers, /Content-Type: application\/octet-stream/);
      assert.ok(part.content.equals(bytes));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
