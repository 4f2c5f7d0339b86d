// `keystore.fs`: the filesystem store.
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { FsKeyStoreOptions } from '@kes/keystores';
import { obj, str } from '../schema-helpers.js';
import { nonEmpty, requireStr } from '../values.js';
import type { KeyStoreSection } from './section.js';

/** True if the absolute path `p` is `dir` or lies below it. */
function isWithin(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel === '' || !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}

/**
 * `keystore.fs: {path, versions_path}` → `{ type: 'fs', options: { path, versionsPath? } }`
 * (relative paths resolved against the base directory). `versions_path` (kes-ts) is where
 * the records of rotated keys live, default `<path>.versions`; it must lie outside `path`
 * and not contain it (the store refuses the same, see `createFsKeyStore`).
 */
export const fsSection: KeyStoreSection = {
  name: 'fs',
  schema: obj({ path: str, versions_path: str }),
  read(section, ctx, path) {
    const keys = ctx.resolvePath(requireStr(section, [...path, 'path'], ctx.problems));
    const given = nonEmpty(section.versions_path);
    const versionsPath = given === undefined ? undefined : ctx.resolvePath(given);
    if (versionsPath !== undefined && keys !== '') {
      // Upstream KES lists every entry of the key directory, and a key directory inside the
      // versions directory would let a record path be a key file.
      const at = [...path, 'versions_path'];
      if (isWithin(resolve(keys), resolve(versionsPath))) {
        ctx.problems.push({ path: at, message: "must be outside the key directory 'path' (upstream KES lists every entry in it)" });
      } else if (isWithin(resolve(versionsPath), resolve(keys))) {
        ctx.problems.push({ path: at, message: "must not contain the key directory 'path'" });
      }
    }
    const options: FsKeyStoreOptions = { path: keys, ...(versionsPath !== undefined ? { versionsPath } : {}) };
    return { type: 'fs', options };
  },
};
