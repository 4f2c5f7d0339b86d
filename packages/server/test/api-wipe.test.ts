// Encoded master keys the server owns are wiped once the key store has them (create,
// import, declared keys) or once they are parsed (cache fill). The store keeps its own copy.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MasterKey } from '@kes/core';
import type { KeyStore, KeyStoreCallOptions } from '@kes/core';
import { FlakyStore, expectError, setup } from './api-helpers.js';
import type { Setup } from './api-helpers.js';

/** Records the buffers that cross the store boundary (by reference, not copied). */
class RecordingStore extends FlakyStore {
  readonly created: Uint8Array[] = [];
  readonly returned: Uint8Array[] = [];

  override async create(name: string, value: Uint8Array, options?: KeyStoreCallOptions): Promise<void> {
    this.created.push(value);
    return super.create(name, value, options);
  }

  override async get(name: string, options?: KeyStoreCallOptions): Promise<Uint8Array> {
    const value = await super.get(name, options);
    this.returned.push(value);
    return value;
  }
}

const isZero = (b: Uint8Array): boolean => b.length > 0 && b.every((x) => x === 0);
const b64 = (t: string): string => Buffer.from(t).toString('base64');

let s: Setup | undefined;
afterEach(async () => {
  await s?.handler.close();
  s = undefined;
});

/** Encrypts and decrypts through the API: the key read back from the store works. */
async function roundTrip(name: string): Promise<void> {
  const { handler, admin } = s as Setup;
  const enc = await handler.inject({
    method: 'PUT',
    path: `/v1/key/encrypt/${name}`,
    identity: admin,
    body: JSON.stringify({ plaintext: b64('hi') }),
  });
  expect(enc.status).toBe(200);
  const { ciphertext } = enc.json<{ ciphertext: string }>();
  const dec = await handler.inject({ method: 'PUT', path: `/v1/key/decrypt/${name}`, identity: admin, body: JSON.stringify({ ciphertext }) });
  expect(dec.json()).toEqual({ plaintext: b64('hi') });
}

/** The store's own copy is intact and parses. */
async function storedKey(store: KeyStore, name: string): Promise<MasterKey> {
  return MasterKey.parse(await (store as RecordingStore).inner.get(name));
}

describe('wiping encoded master keys', () => {
  it('create: the buffer passed to the store is zeroed afterwards, the stored key still works', async () => {
    const store = new RecordingStore();
    s = await setup({ keyStore: store });
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k1', identity: s.admin })).status).toBe(200);
    expect(store.created).toHaveLength(1);
    expect(isZero(store.created[0]!)).toBe(true);
    expect((await storedKey(store, 'k1')).createdBy).toBe(s.admin);
    await roundTrip('k1');
  });

  it('create of an existing name: the buffer is zeroed on failure too', async () => {
    const store = new RecordingStore();
    s = await setup({ keyStore: store });
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k1', identity: s.admin })).status).toBe(200);
    expectError(await s.handler.inject({ method: 'PUT', path: '/v1/key/create/k1', identity: s.admin }), 400, 'key already exists', expect);
    expect(store.created).toHaveLength(2);
    expect(store.created.every(isZero)).toBe(true);
  });

  it('import: the buffer passed to the store is zeroed afterwards, the stored key is the imported one', async () => {
    const store = new RecordingStore();
    s = await setup({ keyStore: store });
    const bytes = randomBytes(32);
    const body = JSON.stringify({ key: bytes.toString('base64'), cipher: 'AES256' });
    expect((await s.handler.inject({ method: 'PUT', path: '/v1/key/import/imp', identity: s.admin, body })).status).toBe(200);
    expect(store.created).toHaveLength(1);
    expect(isZero(store.created[0]!)).toBe(true);
    // A ciphertext made with the imported bytes decrypts through the server.
    const ct = MasterKey.import(bytes, 'AES256').encrypt(Buffer.from('hi'));
    const dec = await s.handler.inject({
      method: 'PUT',
      path: '/v1/key/decrypt/imp',
      identity: s.admin,
      body: JSON.stringify({ ciphertext: Buffer.from(ct).toString('base64') }),
    });
    expect(dec.json()).toEqual({ plaintext: b64('hi') });
  });

  it('cache fill: the value returned by the store is zeroed once parsed, the cached key works', async () => {
    const store = new RecordingStore();
    await store.inner.create('k2', MasterKey.generate().encode());
    s = await setup({ keyStore: store });
    await roundTrip('k2');
    expect(store.returned).toHaveLength(1); // one fetch, then served from the cache
    expect(isZero(store.returned[0]!)).toBe(true);
    await storedKey(store, 'k2');
  });

  it('declared keys: the buffer passed to the store is zeroed after start, the stored key works', async () => {
    const store = new RecordingStore();
    s = await setup({ keyStore: store, keys: [{ name: 'declared' }] });
    expect(store.created).toHaveLength(1);
    expect(isZero(store.created[0]!)).toBe(true);
    expect((await storedKey(store, 'declared')).createdBy).toBe(s.admin);
    await roundTrip('declared');
  });
});
