/** JSON from upstreams is untrusted: the one guard every reader uses before it looks inside an object. */

export type JsonObject = Record<string, unknown>;

/** A plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
