/**
 * The listing helper shared by backends that fetch every name at once (fs, and
 * any store without server-side paging): sort, keep the names with the prefix,
 * cut one page. Mirrors the behaviour of upstream's common keystore list helper
 * (vector `keystore_list_pagination`), written independently.
 */
import type { KeyStoreListResult } from '@kes/core';

/** Page size when the caller asks for none (`limit <= 0` or absent), as upstream. */
export const DEFAULT_LIST_PAGE_SIZE = 1024;

/** Options of {@link listPage}. */
export interface ListPageOptions {
  /** Maximum names in the page; `<= 0` or absent → {@link DEFAULT_LIST_PAGE_SIZE}. */
  readonly limit?: number | undefined;
  /** Start the page at this name (inclusive). */
  readonly continueAt?: string | undefined;
}

/** Byte-wise order for ASCII names (what Go's `sort.Strings` gives for valid KES names). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Returns one sorted page of the `names` that start with `prefix`.
 * `continueAt` of the result is the first name not returned, or `''` at the end.
 *
 * @example
 * listPage(['b', 'a', 'c'], '', { limit: 2 }); // { names: ['a', 'b'], continueAt: 'c' }
 */
export function listPage(names: Iterable<string>, prefix: string, options: ListPageOptions = {}): KeyStoreListResult {
  const limit = options.limit !== undefined && options.limit > 0 ? Math.floor(options.limit) : DEFAULT_LIST_PAGE_SIZE;
  const from = options.continueAt ?? '';
  const matching: string[] = [];
  for (const name of names) {
    if (name.startsWith(prefix) && name >= from) matching.push(name);
  }
  matching.sort(compare);
  if (matching.length <= limit) return { names: matching, continueAt: '' };
  return { names: matching.slice(0, limit), continueAt: matching[limit]! };
}
