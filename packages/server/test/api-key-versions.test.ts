// Key versions and rotation through the in-process handler (docs/key-rotation.md): the
// routes, their errors, the byte-for-byte upstream behaviour of unrotated keys, HMAC
// stability, min versions, rewrap, stale records and the downgrade path.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_VERSION_BINDING_LABEL, MasterKey, encodeKeyVersionRecord, frameVersionOf } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesHandler } from '@kes/server';
import type { KesHandler } from '@kes/server';
import { expectError, randomIdentity, setup } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64');
let open: Setup[] = [];

afterEach(async () => {
  for (const s of open) await s.handler.close();
  open = [];
});

async function server(store: KeyStore = createMemoryKeyStore(), enabled = true): Promise<Setup> {
  const s = await setup({ keyStore: store, keyVersions: { enabled } });
  open.push(s);
  return s;
}

function call(s: Setup, method: string, path: string, body?: unknown) {
  return s.handler.inject({
    method,
    path,
    identity: s.admin,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

async function ok<T = Record<string, string>>(s: Setup, method: string, path: string, body?: unknown): Promise<T> {
  const res = await call(s, method, path, body);
  expect(res.status, `${method} ${path}: ${res.text()}`).toBe(200);
  return res.text() === '' ? (undefined as T) : res.json<T>();
}

describe('key versions', () => {
  it('leaves an unrotated key exactly as upstream: stored value, describe, raw ciphertexts, no version field', async () => {
    const store = createMemoryKeyStore();
    const on = await server(store);
    await ok(on, 'PUT', '/v1/key/create/k');
    const stored = Buffer.from(await store.get('k'));
    const off = await setup({ keyStore: store });
    open.push(off);
    expect((await call(on, 'GET', '/v1/key/describe/k')).text()).toBe((await call(off, 'GET', '/v1/key/describe/k')).text());
    const dk = await ok(on, 'PUT', '/v1/key/generate/k', {});
    expect(Object.keys(dk)).toEqual(['plaintext', 'ciphertext']);
    expect(Buffer.from(dk.ciphertext!, 'base64')).toHaveLength(76);
    expect((await ok(off, 'PUT', '/v1/key/decrypt/k', { ciphertext: dk.ciphertext })).plaintext).toBe(dk.plaintext);
    expect(Object.keys(await ok(on, 'PUT', '/v1/key/encrypt/k', { plaintext: b64('x') }))).toEqual(['ciphertext']);
    expect(Buffer.from(await store.get('k')).equals(stored)).toBe(true);
    expect(await store.versions!.list('k')).toEqual([]);
  });

  it('rotates: new data keys use version 2, framed; every older ciphertext still decrypts; HMAC unchanged', async () => {
    const store = createMemoryKeyStore();
    const s = await server(store);
    await ok(s, 'PUT', '/v1/key/create/k');
    const stored = Buffer.from(await store.get('k'));
    const mac1 = (await ok(s, 'PUT', '/v1/key/hmac/k', { message: b64('root') })).hmac;
    const before = await ok(s, 'PUT', '/v1/key/generate/k', { context: b64('ctx') });
    const r = await ok(s, 'PUT', '/v1/key/rotate/k');
    expect(r).toMatchObject({ name: 'k', version: '2', created_by: s.admin });
    const after = await ok(s, 'PUT', '/v1/key/generate/k', { context: b64('ctx') });
    expect(after.version).toBe('2');
    const ct = Buffer.from(after.ciphertext!, 'base64');
    expect(ct).toHaveLength(84);
    expect(frameVersionOf(ct)).toBe(2);
    for (const dk of [before, after]) {
      expect((await ok(s, 'PUT', '/v1/key/decrypt/k', { ciphertext: dk.ciphertext, context: b64('ctx') })).plaintext).toBe(dk.plaintext);
    }
    const mac2 = await ok(s, 'PUT', '/v1/key/hmac/k', { message: b64('root') });
    expect(mac2).toEqual({ hmac: mac1 });
    const macV2 = await ok(s, 'PUT', '/v1/key/hmac/k', { message: b64('root'), version: '2' });
    expect(macV2.version).toBe('2');
    expect(macV2.hmac).not.toBe(mac1);
    expect((await ok(s, 'GET', '/v1/key/describe/k')).version).toBe('2');
    expect(Buffer.from(await store.get('k')).equals(stored)).toBe(true);
    // Explicit version 1 still gives upstream's layout, with a version field (the key is rotated).
    const v1 = await ok(s, 'PUT', '/v1/key/generate/k', { version: '1' });
    expect(v1.version).toBe('1');
    expect(Buffer.from(v1.ciphertext!, 'base64')).toHaveLength(76);
  });

  it('lists versions with their state and applies min versions as Vault does', async () => {
    const s = await server();
    await ok(s, 'PUT', '/v1/key/create/k');
    const old = await ok(s, 'PUT', '/v1/key/encrypt/k', { plaintext: b64('old') });
    await ok(s, 'PUT', '/v1/key/rotate/k');
    await ok(s, 'PUT', '/v1/key/rotate/k');
    const list = await ok<{ latest: string; versions: Array<Record<string, string>> }>(s, 'GET', '/v1/key/versions/k');
    expect(list).toMatchObject({ name: 'k', latest: '3', encryption_version: '3', min_decryption_version: '1', min_encryption_version: '0' });
    expect(list.versions.map((v) => [v.version, v.state, v.algorithm])).toEqual([
      ['1', 'active', 'AES256'],
      ['2', 'active', 'AES256'],
      ['3', 'active', 'AES256'],
    ]);
    const cfg = await ok(s, 'PUT', '/v1/key/version/config/k', { min_decryption_version: '2', min_encryption_version: '3' });
    expect(cfg).toEqual({ name: 'k', min_decryption_version: '2', min_encryption_version: '3', encryption_version: '0' });
    expectError(
      await call(s, 'PUT', '/v1/key/decrypt/k', { ciphertext: old.ciphertext }),
      400,
      'decryption failed: ciphertext is not authentic',
      expect,
    );
    expectError(
      await call(s, 'PUT', '/v1/key/encrypt/k', { plaintext: b64('x'), version: '2' }),
      400,
      'key version is not allowed for encryption',
      expect,
    );
    expect((await ok(s, 'GET', '/v1/key/versions/k')).versions).toBeDefined();
    // Reversible.
    await ok(s, 'PUT', '/v1/key/version/config/k', { min_decryption_version: '1', min_encryption_version: '0' });
    expect((await ok(s, 'PUT', '/v1/key/decrypt/k', { ciphertext: old.ciphertext })).plaintext).toBe(b64('old'));
    expectError(
      await call(s, 'PUT', '/v1/key/version/config/k', { min_decryption_version: '3', min_encryption_version: '2' }),
      400,
      'invalid key version config: min_encryption_version must be 0 or at least min_decryption_version',
      expect,
    );
  });

  it('rewraps without revealing the plaintext and deletes versions for good', async () => {
    const s = await server();
    await ok(s, 'PUT', '/v1/key/create/k');
    const old = await ok(s, 'PUT', '/v1/key/encrypt/k', { plaintext: b64('secret'), context: b64('c') });
    await ok(s, 'PUT', '/v1/key/rotate/k');
    const wrapped = await ok(s, 'PUT', '/v1/key/rewrap/k', { ciphertext: old.ciphertext, context: b64('c') });
    expect(Object.keys(wrapped).sort()).toEqual(['ciphertext', 'version']);
    expect(wrapped.version).toBe('2');
    expect(JSON.stringify(wrapped)).not.toContain(b64('secret'));
    expect((await ok(s, 'PUT', '/v1/key/decrypt/k', { ciphertext: wrapped.ciphertext, context: b64('c') })).plaintext).toBe(b64('secret'));
    await ok(s, 'PUT', '/v1/key/rotate/k');
    await ok(s, 'DELETE', '/v1/key/version/delete/k?version=2');
    expectError(
      await call(s, 'PUT', '/v1/key/decrypt/k', { ciphertext: wrapped.ciphertext, context: b64('c') }),
      400,
      'decryption failed: ciphertext is not authentic',
      expect,
    );
    expectError(await call(s, 'DELETE', '/v1/key/version/delete/k?version=1'), 400, 'key version 1 cannot be deleted', expect);
    expectError(await call(s, 'DELETE', '/v1/key/version/delete/k?version=2'), 404, 'key version does not exist', expect);
    expectError(await call(s, 'DELETE', '/v1/key/version/delete/k'), 400, 'invalid key version', expect);
    // A delete that would leave no version allowed to encrypt is refused.
    await ok(s, 'PUT', '/v1/key/version/config/k', { min_decryption_version: '3' });
    expectError(
      await call(s, 'DELETE', '/v1/key/version/delete/k?version=3'),
      400,
      'invalid key version config: deleting it would leave no version that may encrypt; lower the minimum versions first',
      expect,
    );
    await ok(s, 'PUT', '/v1/key/version/config/k', { min_decryption_version: '1' });
    // Numbers are never reused: deleting the latest and rotating gives the next number.
    await ok(s, 'DELETE', '/v1/key/version/delete/k?version=3');
    expect((await ok(s, 'PUT', '/v1/key/rotate/k')).version).toBe('4');
  });

  it('refuses bad versions on generate and ignores them as a decrypt hint', async () => {
    const s = await server();
    await ok(s, 'PUT', '/v1/key/create/k');
    for (const v of ['0', 'x', '-1', '4294967296', ' 1']) {
      expectError(await call(s, 'PUT', '/v1/key/generate/k', { version: v }), 400, 'invalid key version', expect);
    }
    expectError(await call(s, 'PUT', '/v1/key/generate/k', { version: '7' }), 404, 'key version does not exist', expect);
    const ct = await ok(s, 'PUT', '/v1/key/encrypt/k', { plaintext: b64('p') });
    for (const v of ['0', 'x', '7', ''])
      expect((await ok(s, 'PUT', '/v1/key/decrypt/k', { ciphertext: ct.ciphertext, version: v })).plaintext).toBe(b64('p'));
  });

  it('imports the material of a new version and checks it as import does', async () => {
    const s = await server();
    await ok(s, 'PUT', '/v1/key/create/k');
    expectError(
      await call(s, 'PUT', '/v1/key/rotate/k', { key: b64(randomBytes(16)), cipher: 'AES256' }),
      406,
      "invalid key size for 'AES256'",
      expect,
    );
    expectError(
      await call(s, 'PUT', '/v1/key/rotate/k', { key: b64(randomBytes(32)), cipher: 'DES' }),
      406,
      "algorithm 'DES' is not supported",
      expect,
    );
    const material = randomBytes(32);
    expect((await ok(s, 'PUT', '/v1/key/rotate/k', { key: b64(material), cipher: 'ChaCha20' })).version).toBe('2');
    const versions = await ok<{ versions: Array<Record<string, string>> }>(s, 'GET', '/v1/key/versions/k');
    expect(versions.versions[1]).toMatchObject({ version: '2', algorithm: 'ChaCha20' });
  });

  it('answers 404 on every version route while key versions are off, and hides them from /v1/api', async () => {
    const s = await server(createMemoryKeyStore(), false);
    await ok(s, 'PUT', '/v1/key/create/k');
    for (const [m, p] of [
      ['PUT', '/v1/key/rotate/k'],
      ['GET', '/v1/key/versions/k'],
      ['DELETE', '/v1/key/version/delete/k?version=2'],
      ['PUT', '/v1/key/version/config/k'],
      ['PUT', '/v1/key/rewrap/k'],
    ] as const) {
      expectError(await call(s, m, p, m === 'PUT' ? {} : undefined), 404, 'key versions are not enabled', expect);
    }
    const api = await ok<Array<{ path: string }>>(s, 'GET', '/v1/api');
    expect(api).toHaveLength(22);
    // A version on generate is ignored, as upstream ignores it.
    expect(Object.keys(await ok(s, 'PUT', '/v1/key/generate/k', { version: 'junk' }))).toEqual(['plaintext', 'ciphertext']);
    const on = await server();
    expect(await ok<unknown[]>(on, 'GET', '/v1/api')).toHaveLength(27);
  });

  it('refuses to start with key versions on a store that cannot keep them', async () => {
    const inner = createMemoryKeyStore();
    const bare: KeyStore = {
      kind: 'bare',
      create: (n, v, o) => inner.create(n, v, o),
      get: (n, o) => inner.get(n, o),
      delete: (n, o) => inner.delete(n, o),
      list: (p, o) => inner.list(p, o),
      status: (o) => inner.status(o),
      close: () => inner.close(),
    };
    await expect(createKesHandler({ admin: randomIdentity(), keyStore: bare, keyVersions: { enabled: true } })).rejects.toThrow(
      'keyVersions: the key store bare cannot keep key versions',
    );
  });

  it('ignores version records of an earlier key with the same name', async () => {
    const store = createMemoryKeyStore();
    const s = await server(store);
    await ok(s, 'PUT', '/v1/key/create/k');
    // A record bound to another version 1 (left behind by an upstream delete and re-create).
    const other = MasterKey.generate();
    await store.versions!.create('k', '2', encodeKeyVersionRecord(2, MasterKey.generate(), other.bindingTag(KEY_VERSION_BINDING_LABEL)));
    const dk = await ok(s, 'PUT', '/v1/key/generate/k');
    expect(dk.version).toBeUndefined();
    expect(s.errors.some((e) => JSON.stringify(e).includes('ignoring version record 2'))).toBe(true);
    // The stale number is skipped by the next rotation.
    expect((await ok(s, 'PUT', '/v1/key/rotate/k')).version).toBe('3');
  });

  it('deletes the versions with the key, and a re-created key starts fresh', async () => {
    const store = createMemoryKeyStore();
    const s = await server(store);
    await ok(s, 'PUT', '/v1/key/create/k');
    await ok(s, 'PUT', '/v1/key/rotate/k');
    await ok(s, 'PUT', '/v1/key/version/config/k', { min_decryption_version: '2' });
    await ok(s, 'DELETE', '/v1/key/delete/k');
    expect(await store.versions!.list('k')).toEqual([]);
    await ok(s, 'PUT', '/v1/key/create/k');
    expect((await ok(s, 'GET', '/v1/key/versions/k')).latest).toBe('1');
  });

  it('two servers sharing a store see each other\u2019s versions and rotate to consecutive numbers', async () => {
    const store = createMemoryKeyStore();
    const a = await server(store);
    const b = await server(store);
    await ok(a, 'PUT', '/v1/key/create/k');
    await ok(b, 'PUT', '/v1/key/generate/k'); // b caches the unrotated ring
    const results = await Promise.all([...Array(6)].map((_, i) => ok(i % 2 ? a : b, 'PUT', '/v1/key/rotate/k')));
    expect(results.map((r) => Number(r.version)).sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7]);
    const fromA = await ok(a, 'PUT', '/v1/key/generate/k');
    expect(fromA.version).toBe('7');
    // b's cache may be stale, but a framed version it lacks makes it read the key again.
    expect((await ok(b, 'PUT', '/v1/key/decrypt/k', { ciphertext: fromA.ciphertext })).plaintext).toBe(fromA.plaintext);
  });

  it('downgrades: pin version 1, rewrap, and a server without versions reads everything', async () => {
    const store = createMemoryKeyStore();
    const s = await server(store);
    await ok(s, 'PUT', '/v1/key/create/k');
    await ok(s, 'PUT', '/v1/key/rotate/k');
    const framed = await ok(s, 'PUT', '/v1/key/generate/k', { context: b64('c') });
    expect(framed.version).toBe('2');
    await ok(s, 'PUT', '/v1/key/version/config/k', { encryption_version: '1' });
    const back = await ok(s, 'PUT', '/v1/key/rewrap/k', { ciphertext: framed.ciphertext, context: b64('c') });
    expect(back.version).toBe('1');
    expect((await ok(s, 'PUT', '/v1/key/generate/k')).version).toBe('1');
    const upstream = await setup({ keyStore: store });
    open.push(upstream);
    expect((await ok(upstream, 'PUT', '/v1/key/decrypt/k', { ciphertext: back.ciphertext, context: b64('c') })).plaintext).toBe(framed.plaintext);
    expectError(
      await call(upstream, 'PUT', '/v1/key/decrypt/k', { ciphertext: framed.ciphertext, context: b64('c') }),
      400,
      'decryption failed: ciphertext is not authentic',
      expect,
    );
  });
});

describe('automatic rotation', () => {
  it('rotates old keys once, even with two servers racing', async () => {
    const store = createMemoryKeyStore();
    const past = new Date(Date.now() - 100 * 86_400_000);
    const k = MasterKey.generate({ now: past });
    await store.create('minio-a', k.encode());
    await store.create('other', MasterKey.generate({ now: past }).encode());
    const opts = { enabled: true, autoRotate: [{ pattern: 'minio-*', everyMs: 90 * 86_400_000 }], autoRotateCheckMs: 20 };
    const handlers: KesHandler[] = [];
    const audited: { request: { path: string; identity?: string; ip?: string }; response: { code: number } }[] = [];
    for (let i = 0; i < 2; i++) {
      const h = await createKesHandler({ admin: randomIdentity(), keyStore: store, keyVersions: opts, log: { error: 'off', audit: 'off' } });
      h.on('audit', (e) => audited.push(e as (typeof audited)[number]));
      handlers.push(h);
    }
    try {
      const deadline = Date.now() + 5000;
      while ((await store.versions!.list('minio-a')).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200)); // further passes must not rotate again: version 2 is new
      expect(await store.versions!.list('minio-a')).toEqual(['2']);
      expect(await store.versions!.list('other')).toEqual([]);
      // The one rotation is one audit record, from whichever server made it (the loser audits nothing).
      expect(audited.map((e) => ({ ...e.request, code: e.response.code }))).toEqual([
        { path: '/v1/key/rotate/minio-a', identity: 'kes:auto-rotate', code: 200 },
      ]);
    } finally {
      for (const h of handlers) await h.close();
    }
  });
});
