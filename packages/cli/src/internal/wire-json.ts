// `--json` output uses the server's own field names (snake_case, RFC 3339 times), so
// that a script written against upstream's JSON or the HTTP API reads ours unchanged.

/** `createdAt` → `created_at`. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * A client result as the server's JSON: camelCase keys to snake_case, `Date`s to
 * RFC 3339, byte arrays to base64; `undefined` fields are left out.
 *
 * @example
 * toWireJson({ createdAt: new Date(0), createdBy: 'x' }); // { created_at: '1970-01-01T00:00:00.000Z', created_by: 'x' }
 */
export function toWireJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(toWireJson);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[snake(k)] = toWireJson(v);
    return out;
  }
  return value;
}
