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

/** How long a paged listing is served from the names fetched for its first page. */
const SNAPSHOT_TTL_MS = 30_000;
/** At most this many paged listings are followed at once; the oldest is dropped. */
const MAX_SNAPSHOTS = 16;

/**
 * Paged listings for stores that can only fetch every name at once (or page in a way that
 * cannot start at a name): the first call fetches all names and returns one page; a
 * follow-up call with `continueAt` is served from that snapshot for 30 s, so a listing
 * neither refetches everything per page nor skips or repeats names while the set changes.
 *
 * @example
 * readonly #listing = new ListSnapshots();
 * list(prefix, options) { return this.#listing.page(prefix, options, () => this.#fetchNames(options?.signal)); }
 */
export class ListSnapshots {
  readonly #snapshots = new Map<string, { readonly names: readonly string[]; readonly expires: number }>();
  #closed = false;

  /** One page of the names with `prefix`; `fetchAll` is called unless a snapshot serves the page. */
  async page(prefix: string, options: ListPageOptions | undefined, fetchAll: () => Promise<readonly string[]>): Promise<KeyStoreListResult> {
    const continueAt = options?.continueAt ?? '';
    const now = Date.now();
    for (const [k, snap] of this.#snapshots) if (snap.expires <= now) this.#snapshots.delete(k);
    const key = `${prefix}\n${continueAt}`;
    const snapshot = continueAt ? this.#snapshots.get(key) : undefined;
    if (snapshot) this.#snapshots.delete(key);
    const names = snapshot ? snapshot.names : await fetchAll();
    const page = listPage(names, prefix, { limit: options?.limit, continueAt });
    if (page.continueAt && !this.#closed) {
      this.#snapshots.set(`${prefix}\n${page.continueAt}`, { names, expires: snapshot?.expires ?? now + SNAPSHOT_TTL_MS });
      while (this.#snapshots.size > MAX_SNAPSHOTS) {
        const oldest = this.#snapshots.keys().next();
        if (oldest.done) break;
        this.#snapshots.delete(oldest.value);
      }
    }
    return page;
  }

  /** Drops every snapshot; later pages are not kept (the store is closing). */
  close(): void {
    this.#closed = true;
    this.#snapshots.clear();
  }
}
