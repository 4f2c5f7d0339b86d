// `keystore.fs`: the filesystem store.
import { obj, str } from '../schema-helpers.js';
import { requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

/** `keystore.fs: {path}` → `{ type: 'fs', options: { path } }` (relative paths resolved against the base directory). */
export const fsSection: KeyStoreSection = {
  name: 'fs',
  schema: obj({ path: str }),
  read(section, ctx, path) {
    return { type: 'fs', options: { path: ctx.resolvePath(requireStr(section, [...path, 'path'], ctx.problems)) } };
  },
};
