/** What the list routes (keys, policies, identities) share: the prefix of a pattern, a JSON array of names. */
import { validatePattern } from '@kes/core';
import { goJsonString } from '@kes/core/wire';

/**
 * The list prefix of a listing pattern: `''`/`*` = all, trailing `*` stripped.
 * @throws ERR_KES_INVALID_PATTERN
 */
export function listPrefix(resource: string): string {
  validatePattern(resource);
  return resource.endsWith('*') ? resource.slice(0, -1) : resource;
}

/** Names as a JSON array with Go's string escaping. */
export function jsonNames(names: readonly string[]): string {
  let s = '[';
  for (let i = 0; i < names.length; i++) s += (i ? ',' : '') + goJsonString(names[i] as string);
  return `${s}]`;
}
