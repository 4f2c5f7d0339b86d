import { describe, expect, it } from 'vitest';
import { DEFAULT_LIST_PAGE_SIZE, listPage } from './list.js';
import { loadVectors } from '../../../../test/support/index.js';

interface PaginationCase {
  names: string[];
  prefix: string;
  n: number;
  list: string[];
  continue_at: string;
}

const vectors = loadVectors<{
  keystore_list_pagination: { cases: PaginationCase[] };
}>();
const cases = vectors.keystore_list_pagination.cases;

describe('listPage', () => {
  it('has vector cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c, i) => [i, c] as const))('vector case %i', (_, c) => {
    const input = [...c.names];
    const page = listPage(input, c.prefix, { limit: c.n });
    expect(page).toEqual({ names: c.list, continueAt: c.continue_at });
    expect(input).toEqual(c.names); // the caller's array is not reordered
  });

  it('pages at 1024 names when no limit is given', () => {
    const names = Array.from({ length: 2500 }, (_, i) => `k${String(i).padStart(4, '0')}`).reverse();
    expect(DEFAULT_LIST_PAGE_SIZE).toBe(1024);
    for (const limit of [undefined, 0, -1]) {
      const page = listPage(names, 'k', { limit });
      expect(page.names).toHaveLength(1024);
      expect(page.names[0]).toBe('k0000');
      expect(page.continueAt).toBe('k1024');
    }
  });

  it('continueAt is inclusive and the last page ends with an empty continueAt', () => {
    const names = ['b', 'a', 'c', 'ab', 'd'];
    expect(listPage(names, '', { limit: 2 })).toEqual({ names: ['a', 'ab'], continueAt: 'b' });
    expect(listPage(names, '', { limit: 2, continueAt: 'b' })).toEqual({ names: ['b', 'c'], continueAt: 'd' });
    expect(listPage(names, '', { limit: 2, continueAt: 'd' })).toEqual({ names: ['d'], continueAt: '' });
    expect(listPage(names, 'a', { continueAt: 'aa' })).toEqual({ names: ['ab'], continueAt: '' });
  });

  it('filters by exact prefix and sorts byte-wise (upper case before lower case)', () => {
    const names = ['key', 'Key', 'KEY', 'ke', 'k-1', 'k_1', 'other'];
    expect(listPage(names, 'K', {})).toEqual({ names: ['KEY', 'Key'], continueAt: '' });
    expect(listPage(names, 'k', {})).toEqual({ names: ['k-1', 'k_1', 'ke', 'key'], continueAt: '' });
    expect(listPage(names, 'key', {})).toEqual({ names: ['key'], continueAt: '' });
    expect(listPage(names, 'nothing', {})).toEqual({ names: [], continueAt: '' });
    expect(listPage(names, '', {}).names).toEqual(['K' + 'EY', 'Key', 'k-1', 'k_1', 'ke', 'key', 'other']);
  });
});
