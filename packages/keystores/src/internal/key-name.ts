/**
 * Name check for stores that map a key name onto a namespace of their own (a
 * file name, a path segment).
 */
import { isValidName } from '@kes/core';

/** Characters that could leave a directory or truncate a path. Valid names never contain them. */
const PATH_SPECIAL = /[/\\.\0]/;

/**
 * True if `name` is a valid KES key name (`isValidName`) and, re-checked on its
 * own so a future relaxation of the name rule cannot open a path traversal,
 * contains none of `/`, `\`, `.` or NUL.
 */
export function isSafeKeyName(name: string): boolean {
  return typeof name === 'string' && isValidName(name) && !PATH_SPECIAL.test(name);
}
