/**
 * The shared key-store contract suite. Every backend runs it:
 *
 * ```ts
 * import { runKeyStoreContract } from './contract.js';
 * runKeyStoreContract('memory', async () => createMemoryKeyStore());
 * ```
 *
 * Every test works on names under a per-run random prefix, so the suite also runs
 * against backends that cannot be wiped (a shared Vault, a cloud account). Names the
 * suite creates are deleted again in `afterAll`.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, isKesError, listAll } from '@kes/core';
import type { KesErrorCode, KeyStore } from '@kes/core';
import { expectKesError as expectKesErrorOf } from '../../../test/support/index.js';

/** Options of {@link runKeyStoreContract}. */
export interface KeyStoreContractOptions {
  /** How many creates of one name race each other (default 50). */
  readonly concurrentCreates?: number;
  /** How many keys the listing test creates (default 10000). */
  readonly listSize?: number;
  /** Largest value the byte-exactness test stores (default 65536 = 64 KiB). */
  readonly maxValueSize?: number;
  /**
   * The backend stores only names of `0-9 A-Z a-z -` (Azure Key Vault) and refuses
   * `_`: the awkward-name and listing tests use names without `_` that exercise the
   * same edges. Default false.
   */
  readonly noUnderscoreNames?: boolean;
  /** Runs before the shared store is closed, e.g. to remove backend state. */
  readonly cleanup?: (store: KeyStore) => Promise<void>;
}

/** Fixed wire message of a catalogued error without arguments. */
function messageOf(code: KesErrorCode): string {
  const m = ERROR_CATALOGUE[code].message;
  return typeof m === 'string' ? m : '';
}

/**
 * Asserts that `p` rejects with a KesError of `code`, and (for fixed messages) its exact
 * message: without `message`, the catalogue's fixed message of `code` is expected.
 */
export async function expectKesError(p: Promise<unknown>, code: KesErrorCode, message = messageOf(code)): Promise<void> {
  await expectKesErrorOf(p, code, message || undefined);
}

/** A random run prefix that is a valid KES name fragment: starts with a letter, no `-` at the end needed. */
function runPrefix(): string {
  return `kct${randomBytes(5).toString('hex')}`;
}

/** A value of `size` bytes that contains 0x00, 0xff and invalid UTF-8 sequences. */
function binaryValue(size: number): Uint8Array {
  const v = new Uint8Array(randomBytes(size));
  const awkward = [0x00, 0xff, 0xc3, 0x28, 0x80, 0xfe, 0x00, 0xed, 0xa0, 0x80];
  for (let i = 0; i < awkward.length && i < size; i++) v[i] = awkward[i]!;
  if (size > 0) v[size - 1] = 0x00;
  return v;
}

/** Runs `fn` over `items` with at most `width` in flight. */
async function inBatches<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/**
 * Registers `describe('KeyStore contract: <name>')` with the cases every
 * `KeyStore` must pass (see the contract in `@kes/core` `keystore.ts`).
 *
 * @param name shown in the test report
 * @param open returns a store; called once for the shared store and once more for the close tests
 * @param options sizes of the concurrency and listing tests, and a cleanup hook
 */
export function runKeyStoreContract(name: string, open: () => Promise<KeyStore>, options: KeyStoreContractOptions = {}): void {
  const concurrentCreates = options.concurrentCreates ?? 50;
  const listSize = options.listSize ?? 10_000;
  const maxValueSize = options.maxValueSize ?? 65_536;

  describe(`KeyStore contract: ${name}`, () => {
    const prefix = runPrefix();
    const created = new Set<string>();
    let store: KeyStore;

    /** Creates a key and remembers it for the final cleanup. */
    const create = async (key: string, value: Uint8Array): Promise<void> => {
      created.add(key);
      await store.create(key, value);
    };

    beforeAll(async () => {
      store = await open();
    });

    afterAll(async () => {
      if (!store) return;
      await inBatches([...created], 16, async (key) => {
        await store.delete(key).catch(() => undefined);
      });
      if (options.cleanup) await options.cleanup(store);
      await store.close();
    });

    it('has a kind', () => {
      expect(typeof store.kind).toBe('string');
      expect(store.kind.length).toBeGreaterThan(0);
    });

    it('creates, gets, lists and deletes a key', async () => {
      const key = `${prefix}-crud`;
      const value = binaryValue(64);
      await create(key, value);
      expect(await store.get(key)).toEqual(value);
      expect(await listAll(store, key)).toEqual([key]);

      await store.delete(key);
      await expectKesError(store.get(key), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      expect(await listAll(store, key)).toEqual([]);

      // A deleted name can be created again.
      const again = binaryValue(32);
      await create(key, again);
      expect(await store.get(key)).toEqual(again);
    });

    it('get and delete of a missing name fail with ERR_KES_KEY_NOT_FOUND', async () => {
      const key = `${prefix}-missing`;
      await expectKesError(store.get(key), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
      await expectKesError(store.delete(key), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    });

    it('a duplicate create fails with ERR_KES_KEY_EXISTS and keeps the original value', async () => {
      const key = `${prefix}-dup`;
      const original = binaryValue(48);
      await create(key, original);
      await expectKesError(store.create(key, binaryValue(48)), 'ERR_KES_KEY_EXISTS', 'key already exists');
      await expectKesError(store.create(key, binaryValue(7)), 'ERR_KES_KEY_EXISTS', 'key already exists');
      expect(await store.get(key)).toEqual(original);
    });

    it(`of ${concurrentCreates} concurrent creates of one name exactly one wins`, async () => {
      const key = `${prefix}-race`;
      created.add(key);
      const values = Array.from({ length: concurrentCreates }, (_, i) => {
        const v = binaryValue(40);
        v[1] = i & 0xff;
        v[2] = (i >> 8) & 0xff;
        return v;
      });
      const results = await Promise.allSettled(values.map((v) => store.create(key, v)));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'fulfilled') continue;
        expect(isKesError(r.reason, 'ERR_KES_KEY_EXISTS'), `unexpected rejection: ${String(r.reason)}`).toBe(true);
        expect((r.reason as Error).message).toBe('key already exists');
      }
      expect(await store.get(key)).toEqual(values[winners[0]!]);
    });

    it('returns values byte-exact (binary, 1 byte to the maximum size)', async () => {
      const sizes = [1, 2, 3, 31, 32, 255, 256, 1000, 1024, 4095, 4096, 16_384, 65_535, 65_536].filter((s) => s <= maxValueSize);
      if (!sizes.includes(maxValueSize)) sizes.push(maxValueSize);
      const cases = sizes.map((size) => ({ key: `${prefix}-bytes-${size}`, value: binaryValue(size) }));
      // Edge shapes: a single NUL byte, all zeros, all 0xff, a lone UTF-8 continuation byte.
      cases.push({ key: `${prefix}-bytes-nul`, value: new Uint8Array([0]) });
      cases.push({ key: `${prefix}-bytes-zeros`, value: new Uint8Array(100) });
      cases.push({ key: `${prefix}-bytes-ff`, value: new Uint8Array(100).fill(0xff) });
      cases.push({ key: `${prefix}-bytes-cont`, value: new Uint8Array([0x80]) });
      for (const { key, value } of cases) await create(key, value);
      for (const { key, value } of cases) {
        const got = await store.get(key);
        expect(got).toBeInstanceOf(Uint8Array);
        expect(got.byteLength, key).toBe(value.byteLength);
        expect(Buffer.from(got).equals(Buffer.from(value)), key).toBe(true);
      }
    });

    it('values are not shared with the caller', async () => {
      const key = `${prefix}-copy`;
      const value = binaryValue(16);
      const copy = value.slice();
      await create(key, value);
      value.fill(1); // mutating the caller's buffer after create must not change the stored value
      const got = await store.get(key);
      expect(got).toEqual(copy);
      got.fill(2); // nor must mutating a returned value
      expect(await store.get(key)).toEqual(copy);
    });

    it('values are not shared with the caller, also when they are Node Buffers', async () => {
      // Buffer#slice() is a view, not a copy: a store that "copies" with it shares memory
      // with the server, which wipes its encoded keys after create and after get.
      const key = `${prefix}-copy-buffer`;
      const value = Buffer.from(binaryValue(16));
      const copy = Uint8Array.from(value);
      await create(key, value);
      value.fill(0);
      const got = await store.get(key);
      expect(new Uint8Array(got)).toEqual(copy);
      got.fill(0);
      expect(new Uint8Array(await store.get(key))).toEqual(copy);
    });

    it('accepts awkward valid names, and names are case-sensitive', async () => {
      const tag = randomBytes(4).toString('hex');
      const digits = Array.from({ length: 24 }, () => String(randomInt(10))).join('');
      const names = [
        options.noUnderscoreNames ? `0-${tag}0--0---z` : `_-${tag}___---_`, // starts and ends with `_`, runs of `-` and `_`
        `${prefix}-${'x'.repeat(80)}`.slice(0, 80), // exactly 80 characters
        `9${digits}`, // digits only
        `${prefix}-Key`,
        `${prefix}-key`, // differs from the one above only by case
        `${prefix}-KEY`,
      ];
      expect(names[1]).toHaveLength(80);
      const values = names.map((_, i) => new Uint8Array([i, 0, 255 - i]));
      for (const [i, key] of names.entries()) await create(key, values[i]!);
      for (const [i, key] of names.entries()) expect(await store.get(key), key).toEqual(values[i]);
      expect(await listAll(store, `${prefix}-K`)).toEqual([`${prefix}-KEY`, `${prefix}-Key`]);
      expect(await listAll(store, `${prefix}-k`)).toEqual([`${prefix}-key`]);
      await store.delete(`${prefix}-Key`);
      expect(await store.get(`${prefix}-key`)).toEqual(values[4]);
      expect(await store.get(`${prefix}-KEY`)).toEqual(values[5]);
      await expectKesError(store.get(`${prefix}-Key`), 'ERR_KES_KEY_NOT_FOUND');
    });

    it(
      `lists ${listSize} keys by prefix, sorted, following continueAt pages`,
      async () => {
        const base = `${prefix}-L`;
        const width = String(listSize).length;
        const keys = Array.from({ length: listSize }, (_, i) => `${base}-${String(i).padStart(width, '0')}`);
        // Decoys: share part of the prefix but must not match `${base}-`.
        const under = options.noUnderscoreNames ? `${base}Zx` : `${base}_x`;
        const decoys = [`${base}`, under, `${base}x-1`, `${prefix}-M-0`, `${prefix}-l-0`];
        const shuffled = [...keys, ...decoys].sort(() => Math.random() - 0.5);
        const v = new Uint8Array([1]);
        await inBatches(shuffled, 32, (key) => create(key, v));

        const expected = [...keys].sort();
        const listed = await listAll(store, `${base}-`);
        expect(listed.length).toBe(expected.length);
        expect(listed).toEqual(expected);

        // One prefix less: the decoys that start with `${base}` appear too, still sorted.
        const wider = await listAll(store, base);
        expect(wider).toEqual([...keys, `${base}`, under, `${base}x-1`].sort());

        // An exact name is its own prefix; a prefix matching nothing gives an empty, final page.
        expect(await listAll(store, `${base}-${String(0).padStart(width, '0')}`)).toEqual([expected[0]]);
        const none = await store.list(`${prefix}-nothing-`);
        expect(none.names).toEqual([]);
        expect(none.continueAt).toBe('');

        // Every single page is sorted, within the prefix, and continueAt lies beyond it.
        const first = await store.list(`${base}-`, { limit: 7 });
        expect(first.names.length).toBeGreaterThan(0);
        expect(first.names).toEqual([...first.names].sort());
        for (const n of first.names) expect(n.startsWith(`${base}-`)).toBe(true);
        if (first.continueAt) {
          expect(first.continueAt > first.names[first.names.length - 1]!).toBe(true);
          const second = await store.list(`${base}-`, { continueAt: first.continueAt });
          expect(second.names[0]).toBe(first.continueAt); // continueAt is inclusive
        }

        // The empty prefix lists everything (the store may hold other keys too).
        const all = await listAll(store, '');
        expect(all).toEqual([...all].sort());
        expect(new Set(all).size).toBe(all.length);
        const everything = new Set(all);
        for (const key of [...keys, ...decoys]) expect(everything.has(key), key).toBe(true);
      },
      Math.max(120_000, listSize * 60),
    );

    it('status() reports a latency >= 0', async () => {
      const s = await store.status();
      expect(typeof s.latencyMs).toBe('number');
      expect(Number.isFinite(s.latencyMs)).toBe(true);
      expect(s.latencyMs).toBeGreaterThanOrEqual(0);
    });

    it('an aborted signal rejects every call with its reason and changes nothing', async () => {
      const key = `${prefix}-aborted`;
      const reason = new Error('aborted by the contract test');
      const signal = AbortSignal.abort(reason);
      const calls: Promise<unknown>[] = [
        store.create(key, new Uint8Array([1]), { signal }),
        store.get(key, { signal }),
        store.delete(key, { signal }),
        store.list(prefix, { signal }),
        store.status({ signal }),
      ];
      for (const call of calls) await expect(call).rejects.toBe(reason);
      await expectKesError(store.get(key), 'ERR_KES_KEY_NOT_FOUND');
    });

    it('after close() every call fails with ERR_KES_KEYSTORE_UNAVAILABLE; close is idempotent', async () => {
      const other = await open();
      const key = `${prefix}-closed`;
      await other.close();
      await other.close();
      const calls: Promise<unknown>[] = [
        other.create(key, new Uint8Array([1])),
        other.get(key),
        other.delete(key),
        other.list(prefix),
        other.status(),
      ];
      for (const call of calls) await expectKesError(call, 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
      await expect(other.close()).resolves.toBeUndefined();
      // Closing one store does not affect another one.
      await expectKesError(store.get(key), 'ERR_KES_KEY_NOT_FOUND');
    });
  });
}
