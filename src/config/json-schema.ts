/**
 * The JSON Schema of proxy.config.json, from the one zod schema (schema.ts), so editors complete and check the file
 * with the same rules nugate applies at start. `nugate config schema` prints it; `npm run schema` writes it to
 * config/proxy.config.schema.json, and a test fails while the committed file is out of date.
 *
 * It describes what may be written (zod's "input" side): durations and sizes as numbers or strings like "5m" and
 * "20GB", defaults shown, nothing required that has a default.
 */
import { z } from 'zod';
import { configSchema } from './schema.ts';

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
