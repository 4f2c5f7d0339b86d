// `keys`: keys created at start (and on reload) if missing.
import type { CheckContext } from '../values.js';
import { isMap } from '../values.js';

/** Checks `keys` (no empty or duplicate names); returns the server's key list. */
export function checkKeys(ctx: CheckContext): { readonly name: string }[] {
  const keys: { name: string }[] = [];
  if (!Array.isArray(ctx.doc.keys)) return keys;
  const seen = new Set<string>();
  ctx.doc.keys.forEach((k, i) => {
    if (!isMap(k) || typeof k.name !== 'string') return;
    const name = k.name.trim();
    if (name === '') ctx.problems.push({ path: ['keys', i, 'name'], message: 'must not be empty' });
    else if (seen.has(name)) ctx.problems.push({ path: ['keys', i, 'name'], message: `duplicate key '${name}'` });
    else {
      seen.add(name);
      keys.push({ name });
    }
  });
  return keys;
}
