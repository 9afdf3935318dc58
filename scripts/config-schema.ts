/**
 * Writes config/proxy.config.schema.json, the JSON Schema of proxy.config.json, from the one zod schema
 * (src/config/schema.ts), so editors complete and check the file with the same rules nugate applies at start.
 * `npm run schema` after a change to the config schema; a test fails while the committed file is out of date.
 *
 * The schema describes what may be written (zod's "input" side): durations and sizes as numbers or strings like
 * "5m" and "20GB", defaults shown, nothing required that has a default.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from '../src/config/schema.ts';

export const SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'config', 'proxy.config.schema.json');

/** The schema file's text, exactly as committed. */
export function configJsonSchemaText(): string {
  const generated = z.toJSONSchema(configSchema, { io: 'input' });
  const schema = {
    ...generated,
    title: 'nugate configuration (proxy.config.json)',
    description: 'Generated from src/config/schema.ts by `npm run schema`; durations are milliseconds or "30s", "5m", "1h", "1d"; sizes are bytes or "512KB", "250MB", "20GB".',
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(SCHEMA_FILE, configJsonSchemaText());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
