import { describe, expect, it } from 'vitest';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { runKeyStoreContract, expectKesError } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';

runKeyStoreContract('memory', async () => createMemoryKeyStore());
runVersionRecordContract('memory', async () => createMemoryKeyStore());

describe('createMemoryKeyStore', () => {
  it('has kind "memory"', () => {
    expect(createMemoryKeyStore().kind).toBe('memory');
  });

  it('starts with copies of the initial keys', async () => {
    const a = new Uint8Array([1, 2, 3]);
    const store = createMemoryKeyStore({
      initial: [
        ['a', a],
        ['b', new Uint8Array([4])],
      ],
    });
    a.fill(0);
    expect(await store.get('a')).toEqual(new Uint8Array([1, 2, 3]));
    expect((await store.list('')).names).toEqual(['a', 'b']);
  });

  it('rejects duplicate initial keys', () => {
    let error: unknown;
    try {
      createMemoryKeyStore({
        initial: [
          ['a', new Uint8Array([1])],
          ['a', new Uint8Array([2])],
        ],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_KES_KEY_EXISTS', message: 'key already exists' });
  });

  it('pages listings at 1024 names by default and honours limit', async () => {
    const store = createMemoryKeyStore({
      initial: Array.from({ length: 1500 }, (_, i) => [`k${String(i).padStart(4, '0')}`, new Uint8Array([1])] as const),
    });
    const first = await store.list('k');
    expect(first.names).toHaveLength(1024);
    expect(first.continueAt).toBe('k1024');
    const second = await store.list('k', { continueAt: first.continueAt });
    expect(second.names).toHaveLength(476);
    expect(second.continueAt).toBe('');
    const small = await store.list('k', { limit: 3 });
    expect(small).toEqual({ names: ['k0000', 'k0001', 'k0002'], continueAt: 'k0003' });
  });

  it('close wipes the keys and later calls fail', async () => {
    const store = createMemoryKeyStore({ initial: [['a', new Uint8Array([1])]] });
    await store.close();
    await expectKesError(store.get('a'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
  });
});
