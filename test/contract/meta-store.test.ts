import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetaStores } from '../../src/cache/meta.ts';
import { startRedis } from '../helpers/redis.ts';
import { metaStoreContract } from './meta-store.contract.ts';

metaStoreContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-meta-'));
  return {
    persistent: true,
    open: async () => openMetaStores('file', dir),
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
});

metaStoreContract('memory', async () => ({
  persistent: false,
  open: async () => openMetaStores('memory', '/nonexistent'),
  teardown: async () => {},
}));

metaStoreContract('redis', async () => {
  const redis = await startRedis();
  return {
    persistent: true,
    open: async () => openMetaStores(redis.url, '/nonexistent'),
    teardown: () => redis.stop(),
  };
});
