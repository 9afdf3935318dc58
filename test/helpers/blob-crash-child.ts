/**
 * Child process for test/unit/cache/crash.test.ts: completes one download, then starts several slow ones
 * and prints READY once each has written part of its body. The parent kills it with SIGKILL at that point.
 * Usage: node --import tsx test/helpers/blob-crash-child.ts <cacheDir>
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createCache } from '../../src/cache/index.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { BlobKey, BlobResult } from '../../src/cache/types.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: blob-crash-child.ts <cacheDir>');

const PACKAGES = '/opt/nuget/packages';
const config = parseConfig({ upstreams: [{ name: 'nuget.org', url: 'https://api.nuget.org/v3/index.json' }], cache: { dir } });
const cache = await createCache({ config });

async function drain(r: BlobResult | undefined): Promise<void> {
  if (r?.body.kind !== 'stream') throw new Error('expected a download');
  for await (const _ of r.body.stream) {
    // consume
  }
}

// One complete download: it must survive the crash intact.
const done = await readFile(`${PACKAGES}/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`);
await drain(await cache.blobs.get({ upstream: 'nuget.org', id: 'newtonsoft.json', version: '13.0.3', file: 'nupkg' }, async () => ({
  stream: Readable.from([done]),
  length: done.length,
})));

/** A body that trickles out 4 KB at a time and would take minutes to finish. */
function slow(data: Buffer): Readable {
  let offset = 0;
  const stream = new Readable({ read() {} });
  const timer = setInterval(() => {
    if (offset >= data.length) return; // never ends: the process dies first
    stream.push(data.subarray(offset, offset + 4096));
    offset += 4096;
  }, 50);
  stream.once('close', () => clearInterval(timer));
  return stream;
}

const slowOnes: Array<[BlobKey, string]> = [
  [{ upstream: 'nuget.org', id: 'xunit.assert', version: '2.9.3', file: 'nupkg' }, `${PACKAGES}/xunit.assert/2.9.3/xunit.assert.2.9.3.nupkg`],
  [{ upstream: 'nuget.org', id: 'xunit.analyzers', version: '1.26.0', file: 'nupkg' }, `${PACKAGES}/xunit.analyzers/1.26.0/xunit.analyzers.1.26.0.nupkg`],
  [{ upstream: 'nuget.org', id: 'system.collections.immutable', version: '8.0.0', file: 'nupkg' }, `${PACKAGES}/system.collections.immutable/8.0.0/system.collections.immutable.8.0.0.nupkg`],
];

const received = slowOnes.map(() => 0);
let ready = false;
for (const [i, [key, path]] of slowOnes.entries()) {
  const data = await readFile(path);
  // Two clients per download, as with coalesced requests.
  for (let c = 0; c < 2; c++) {
    const r = await cache.blobs.get(key, async () => ({ stream: slow(data), length: data.length }));
    if (r?.body.kind !== 'stream') throw new Error('expected a download');
    r.body.stream.on('data', (chunk: Buffer) => {
      if (c === 0) received[i] = (received[i] ?? 0) + chunk.length;
      if (!ready && received.every((n) => n >= 16 * 1024)) {
        ready = true;
        process.stdout.write('READY\n');
      }
    });
  }
}
