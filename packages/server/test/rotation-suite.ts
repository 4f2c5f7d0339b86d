/**
 * Rotation on a real key store, through the in-process handler (docs/key-rotation.md):
 * every store that keeps key versions runs it (rotation-*.test.ts).
 *
 * - an unrotated key answers and is stored exactly as upstream's;
 * - rotating while traffic runs: every ciphertext made before, during and after decrypts,
 *   HMAC output never changes;
 * - a raised min_decryption_version refuses old ciphertexts with upstream's error;
 * - two servers sharing the store rotate at once: consecutive versions, none lost;
 * - downgrade: pin version 1, rewrap, and a server without versions reads everything.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createKesHandler } from '@kes/server';
import type { KesHandler } from '@kes/server';

/** Options of {@link runRotationSuite}. */
export interface RotationSuiteOptions {
  /**
   * The store's create is atomic, so two servers rotating at once get consecutive versions
   * (default true). Vault K/V v1 has no compare-and-set: rotate from one server there.
   */
  readonly atomicCreate?: boolean;
  /** Concurrent requests of the traffic (default 8). */
  readonly traffic?: number;
  /** Removes backend state after the suite (names it used start with the given prefix). */
  readonly cleanup?: (prefix: string) => Promise<void>;
}

interface Server {
  handler: KesHandler;
  admin: string;
}

type Reply = Record<string, string>;
const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64');

/**
 * Registers `describe('rotation on <name>')`. `open` returns a new client of the same
 * backend each call (two servers share one store's data, not one object).
 */
export function runRotationSuite(name: string, open: () => Promise<KeyStore>, options: RotationSuiteOptions = {}): void {
  describe(`rotation on ${name}`, () => {
    const admin = randomBytes(32).toString('hex');
    const prefix = `rot${randomBytes(3).toString('hex')}`;
    const servers: Server[] = [];
    const stores: KeyStore[] = [];

    async function server(enabled = true): Promise<Server> {
      const store = await open();
      stores.push(store);
      const handler = await createKesHandler({ admin, keyStore: store, keyVersions: { enabled }, log: { error: 'off', audit: 'off' } });
      const s = { handler, admin };
      servers.push(s);
      return s;
    }

    async function call(s: Server, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
      const res = await s.handler.inject({ method, path, identity: s.admin, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, text: res.text() };
    }

    async function ok(s: Server, method: string, path: string, body?: unknown): Promise<Reply> {
      const r = await call(s, method, path, body);
      if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
      return r.text === '' ? {} : (JSON.parse(r.text) as Reply);
    }

    let a: Server;
    let b: Server;
    let off: Server;
    beforeAll(async () => {
      a = await server();
      b = await server();
      off = await server(false);
    });

    afterAll(async () => {
      for (const k of ['plain', 'busy', 'race', 'down']) await call(a, 'DELETE', `/v1/key/delete/${prefix}-${k}`).catch(() => undefined);
      for (const s of servers) await s.handler.close();
      await options.cleanup?.(prefix);
    });

    it('leaves an unrotated key as upstream has it: stored value, describe, raw ciphertexts, no records', async () => {
      const key = `${prefix}-plain`;
      await ok(a, 'PUT', `/v1/key/create/${key}`);
      const store = stores[0] as KeyStore;
      const stored = Buffer.from(await store.get(key));
      expect((await call(a, 'GET', `/v1/key/describe/${key}`)).text).toBe((await call(off, 'GET', `/v1/key/describe/${key}`)).text);
      const dk = await ok(a, 'PUT', `/v1/key/generate/${key}`, { context: b64('c') });
      expect(Object.keys(dk)).toEqual(['plaintext', 'ciphertext']);
      expect(Buffer.from(dk.ciphertext as string, 'base64')).toHaveLength(76);
      expect((await ok(off, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: dk.ciphertext, context: b64('c') })).plaintext).toBe(dk.plaintext);
      expect((await ok(a, 'PUT', `/v1/key/hmac/${key}`, { message: b64('m') })).hmac).toBe(
        (await ok(off, 'PUT', `/v1/key/hmac/${key}`, { message: b64('m') })).hmac,
      );
      expect(Buffer.from(await store.get(key)).equals(stored)).toBe(true);
      expect(await store.versions?.list(key)).toEqual([]);
    });

    it('rotates while traffic runs: every ciphertext decrypts, HMAC never changes', async () => {
      const key = `${prefix}-busy`;
      await ok(a, 'PUT', `/v1/key/create/${key}`);
      const mac = (await ok(a, 'PUT', `/v1/key/hmac/${key}`, { message: b64('root-credentials') })).hmac;
      const made: Array<{ ct: string; pt: string; ctx: string; version: string }> = [];
      const failures: string[] = [];
      let running = true;
      const worker = async (i: number): Promise<void> => {
        for (let n = 0; running; n++) {
          // In-process requests on a memory store settle in microtasks: yield, or the timers never run.
          await new Promise((r) => setImmediate(r));
          const s = (i + n) % 2 ? a : b;
          const ctx = b64(`ctx-${i}-${n}`);
          try {
            const dk = await ok(s, 'PUT', `/v1/key/generate/${key}`, { context: ctx });
            made.push({ ct: dk.ciphertext as string, pt: dk.plaintext as string, ctx, version: dk.version ?? '1' });
            const old = made[Math.floor(Math.random() * made.length)] as (typeof made)[number];
            const back = await ok(s === a ? b : a, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: old.ct, context: old.ctx });
            if (back.plaintext !== old.pt) failures.push(`decrypt of version ${old.version} gave another plaintext`);
            if ((await ok(s, 'PUT', `/v1/key/hmac/${key}`, { message: b64('root-credentials') })).hmac !== mac) failures.push('HMAC changed');
          } catch (e) {
            failures.push((e as Error).message);
          }
        }
      };
      const traffic = Array.from({ length: options.traffic ?? 8 }, (_, i) => worker(i));
      const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 150));
      const rotated: string[] = [];
      for (let i = 0; i < 3; i++) {
        await pause();
        rotated.push((await ok(i % 2 ? a : b, 'PUT', `/v1/key/rotate/${key}`)).version as string);
      }
      await pause();
      running = false;
      await Promise.all(traffic);
      expect(failures).toEqual([]);
      expect(rotated).toEqual(['2', '3', '4']);
      const seen = new Set(made.map((m) => m.version));
      expect(seen.has('1')).toBe(true);
      expect(seen.has('4')).toBe(true);
      for (const m of made) {
        const back = await ok(off === a ? b : a, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: m.ct, context: m.ctx });
        expect(back.plaintext).toBe(m.pt);
      }
      // A raised minimum refuses the older ciphertexts with upstream's own error, and is reversible.
      await ok(a, 'PUT', `/v1/key/version/config/${key}`, { min_decryption_version: '4' });
      const v1 = made.find((m) => m.version === '1') as (typeof made)[number];
      const refused = await call(a, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: v1.ct, context: v1.ctx });
      expect(refused).toEqual({ status: 400, text: '{"message":"decryption failed: ciphertext is not authentic"\n}' });
      await ok(a, 'PUT', `/v1/key/version/config/${key}`, { min_decryption_version: '1' });
      expect((await ok(a, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: v1.ct, context: v1.ctx })).plaintext).toBe(v1.pt);
      expect((await ok(a, 'PUT', `/v1/key/hmac/${key}`, { message: b64('root-credentials') })).hmac).toBe(mac);
    });

    it.skipIf(options.atomicCreate === false)('gives two servers rotating at once consecutive versions, none lost', async () => {
      const key = `${prefix}-race`;
      await ok(a, 'PUT', `/v1/key/create/${key}`);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => ok(i % 2 ? a : b, 'PUT', `/v1/key/rotate/${key}`)));
      expect(results.map((r) => Number(r.version)).sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7]);
      const listed = await ok(b, 'GET', `/v1/key/versions/${key}`);
      expect((listed as unknown as { versions: Reply[] }).versions.map((v) => v.version)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    });

    it('downgrades: pin version 1, rewrap, and a server without versions reads everything', async () => {
      const key = `${prefix}-down`;
      await ok(a, 'PUT', `/v1/key/create/${key}`);
      const before = await ok(a, 'PUT', `/v1/key/generate/${key}`);
      await ok(a, 'PUT', `/v1/key/rotate/${key}`);
      const framed = await ok(a, 'PUT', `/v1/key/generate/${key}`, { context: b64('x') });
      expect(framed.version).toBe('2');
      expect((await call(off, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: framed.ciphertext, context: b64('x') })).status).toBe(400);
      await ok(a, 'PUT', `/v1/key/version/config/${key}`, { encryption_version: '1' });
      const back = await ok(a, 'PUT', `/v1/key/rewrap/${key}`, { ciphertext: framed.ciphertext, context: b64('x') });
      expect(back.version).toBe('1');
      expect((await ok(off, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: back.ciphertext, context: b64('x') })).plaintext).toBe(framed.plaintext);
      expect((await ok(off, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: before.ciphertext })).plaintext).toBe(before.plaintext);
      const fresh = await ok(b, 'PUT', `/v1/key/generate/${key}`);
      expect(fresh.version).toBe('1');
      expect((await ok(off, 'PUT', `/v1/key/decrypt/${key}`, { ciphertext: fresh.ciphertext })).plaintext).toBe(fresh.plaintext);
    });
  });
}
