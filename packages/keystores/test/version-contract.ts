/**
 * The version-record contract suite (`KeyVersionStore` in `@kes/core` keystore.ts).
 * Every store that keeps versions of rotated keys runs it next to its key-store
 * contract:
 *
 * ```ts
 * runVersionRecordContract('memory', async () => createMemoryKeyStore());
 * ```
 *
 * Names live under a random per-run prefix and are removed in `afterAll`, so the suite
 * also runs against stores that cannot be wiped.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKesError, listAll } from '@kes/core';
import type { KeyStore, KeyVersionStore } from '@kes/core';
import { expectKesError } from './contract.js';

/** Options of {@link runVersionRecordContract}. */
export interface VersionRecordContractOptions {
  /** How many creates of one record race each other (default 20). */
  readonly concurrentCreates?: number;
  /** The store refuses `_` in names (Azure). Default false. */
  readonly noUnderscoreNames?: boolean;
}

/**
 * Registers `describe('KeyVersionStore contract: <name>')`. `open` returns a store
 * whose `versions` is set; the suite closes it in `afterAll`.
 */
export function runVersionRecordContract(name: string, open: () => Promise<KeyStore>, options: VersionRecordContractOptions = {}): void {
  const races = options.concurrentCreates ?? 20;
  const sep = options.noUnderscoreNames ? '-' : '_';
  describe(`KeyVersionStore contract: ${name}`, () => {
    let store: KeyStore;
    let versions: KeyVersionStore;
    const prefix = `kvr${randomBytes(4).toString('hex')}`;
    const n = (s: string): string => `${prefix}${sep}${s}`;
    const made: Array<[string, string]> = [];
    const base: string[] = [];

    beforeAll(async () => {
      store = await open();
      if (store.versions === undefined) throw new Error(`${name}: store has no version records`);
      versions = store.versions;
    });

    afterAll(async () => {
      for (const [k, id] of made) await versions.delete(k, id).catch(() => undefined);
      for (const k of base) await store.delete(k).catch(() => undefined);
      await store.close();
    });

    async function put(key: string, id: string, value: Uint8Array): Promise<void> {
      await versions.create(key, id, value);
      made.push([key, id]);
    }

    it('names where the records live', () => {
      expect(typeof versions.location).toBe('string');
      expect(versions.location.length).toBeGreaterThan(0);
    });

    it('creates, reads back byte-exact, lists and deletes a record', async () => {
      const key = n('a');
      const value = new Uint8Array(randomBytes(300));
      value[0] = 0;
      value[1] = 0xff;
      await put(key, '2', value);
      expect(Buffer.from(await versions.get(key, '2')).equals(Buffer.from(value))).toBe(true);
      expect(await versions.list(key)).toEqual(['2']);
      await versions.delete(key, '2');
      await expectKesError(versions.get(key, '2'), 'ERR_KES_KEY_NOT_FOUND');
      await expectKesError(versions.delete(key, '2'), 'ERR_KES_KEY_NOT_FOUND');
      expect(await versions.list(key)).toEqual([]);
    });

    it('is create-only: a second create fails and keeps the first value', async () => {
      const key = n('b');
      await put(key, '2', new Uint8Array([1, 2, 3]));
      await expectKesError(versions.create(key, '2', new Uint8Array([9])), 'ERR_KES_KEY_EXISTS');
      expect([...(await versions.get(key, '2'))]).toEqual([1, 2, 3]);
    });

    it(`lets exactly one of ${races} racing creates win`, async () => {
      const key = n('race');
      const results = await Promise.allSettled(Array.from({ length: races }, (_, i) => versions.create(key, '3', new Uint8Array([i + 1]))));
      made.push([key, '3']);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isKesError(r.reason, 'ERR_KES_KEY_EXISTS')).toBe(true);
      expect([...(await versions.get(key, '3'))]).toEqual([won[0]! + 1]);
    });

    it('keeps records apart from keys: no listing entry, no collision, base untouched', async () => {
      const key = n('iso');
      base.push(key);
      await store.create(key, new Uint8Array([7]));
      await put(key, '2', new Uint8Array([8]));
      await put(key, 'c1', new Uint8Array([9]));
      const names = await listAll(store, prefix);
      expect(names.filter((x) => x.startsWith(prefix))).toEqual(names);
      expect(names).toContain(key);
      for (const x of names) expect(x).toMatch(/^[0-9A-Za-z_-]+$/);
      expect([...(await store.get(key))]).toEqual([7]);
      await versions.delete(key, '2');
      expect([...(await store.get(key))]).toEqual([7]);
      await store.delete(key);
      expect([...(await versions.get(key, 'c1'))]).toEqual([9]);
    });

    it('lists only the records of one name, not of names sharing its prefix', async () => {
      const a = n('p');
      const b = n('p2');
      await put(a, '2', new Uint8Array([1]));
      await put(a, '10', new Uint8Array([1]));
      await put(a, 'c3', new Uint8Array([1]));
      await put(b, '2', new Uint8Array([2]));
      expect((await versions.list(a)).sort()).toEqual(['10', '2', 'c3']);
      expect(await versions.list(b)).toEqual(['2']);
      expect(await versions.list(n('none'))).toEqual([]);
    });

    it('refuses ids and names that could escape, before any I/O', async () => {
      for (const id of ['', '../x', 'a/b', 'A', '.', '..', 'x'.repeat(17), 'a\0', '2 ']) {
        await expectKesError(versions.create(n('esc'), id, new Uint8Array([1])), 'ERR_KES_INVALID_ARGUMENT');
        await expectKesError(versions.get(n('esc'), id), 'ERR_KES_INVALID_ARGUMENT');
        await expectKesError(versions.delete(n('esc'), id), 'ERR_KES_INVALID_ARGUMENT');
      }
      for (const bad of ['..', 'a/b', '../x', 'a.b', '']) {
        await expectKesError(versions.create(bad, '2', new Uint8Array([1])), 'ERR_KES_INVALID_ARGUMENT');
        await expectKesError(versions.list(bad), 'ERR_KES_INVALID_ARGUMENT');
      }
    });

    it('hands out buffers the caller owns', async () => {
      const key = n('own');
      const value = new Uint8Array([5, 6, 7]);
      await put(key, '4', value);
      value.fill(0);
      const got = await versions.get(key, '4');
      got.fill(0);
      expect([...(await versions.get(key, '4'))]).toEqual([5, 6, 7]);
    });
  });
}
