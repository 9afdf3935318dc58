/**
 * config/proxy.config.schema.json is what `npm run schema` generates from the zod schema now (a change to the
 * config schema without regenerating fails here), and every example config references it and loads.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from '../../../src/config/json-schema.ts';
import { loadConfigFile } from '../../../src/config/load.ts';

const SCHEMA_FILE = fileURLToPath(new URL('../../../config/proxy.config.schema.json', import.meta.url));
import { REPO_ROOT } from '../../helpers/nugate-process.ts';

test('the committed JSON Schema equals what `npm run schema` generates from src/config/schema.ts', async () => {
  const committed = await readFile(SCHEMA_FILE, 'utf8');
  assert.ok(committed === configJsonSchemaText(), 'config/proxy.config.schema.json is out of date: run `npm run schema` and commit it');
  const schema = JSON.parse(committed) as { properties: Record<string, unknown>; required?: string[]; additionalProperties?: unknown };
  // What editors need: the keys nugate knows, unknown keys refused, "$schema" itself allowed.
  for (const key of ['$schema', 'listen', 'upstreams', 'cache', 'auth', 'publish']) assert.ok(key in schema.properties, `schema lacks ${key}`);
  assert.deepEqual(schema.required, ['upstreams']);
  assert.equal(schema.additionalProperties, false);
});

test('proxy.config.json and every proxy config in config/ reference the schema and load', async () => {
  const files = [join(REPO_ROOT, 'proxy.config.json')];
  for (const name of await readdir(join(REPO_ROOT, 'config'))) {
    if (!name.endsWith('.json') || name.endsWith('.schema.json')) continue;
    const path = join(REPO_ROOT, 'config', name);
    const json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    // config/ also holds other JSON (a Grafana dashboard): a proxy config is one with upstreams.
    if ('upstreams' in json) files.push(path);
  }
  assert.ok(files.length >= 4, `found ${files.length} configs`);
  for (const file of files) {
    const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const expected = file.endsWith('/proxy.config.json') ? './config/proxy.config.schema.json' : './proxy.config.schema.json';
    assert.equal(json.$schema, expected, `${file}: "$schema"`);
    await loadConfigFile(file);
  }
});
