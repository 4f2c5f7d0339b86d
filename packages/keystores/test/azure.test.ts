// The Azure Key Vault store against a FAKE Key Vault (test/fakes/azure.ts, written
// from the public REST docs; no emulator runs here): the shared contract, the
// upstream layout (interop), soft delete + purge, first-writer-wins reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createAzureKeyStore } from '@kes/keystores/azure';
import type { AzureKeyStoreOptions } from '@kes/keystores/azure';
import { expectKesError, runKeyStoreContract } from './contract.js';
import { FakeAzureKeyVault } from './fakes/azure.js';

let fake: FakeAzureKeyVault;
const stores: KeyStore[] = [];

beforeAll(async () => {
  fake = await FakeAzureKeyVault.start({ pageSize: 25 });
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fake.stop();
});

async function open(o: Partial<AzureKeyStoreOptions> = {}): Promise<KeyStore> {
  const s = await createAzureKeyStore({
    endpoint: fake.url,
    credentials: fake.credentials,
    authorityHost: fake.url,
    tls: { ca: fake.caPem },
    environment: {},
    purgeRetryDelayMs: 5,
    ...o,
  });
  stores.push(s);
  return s;
}

runKeyStoreContract('azure (fake Key Vault)', () => open(), { listSize: 200, maxValueSize: 16_384, concurrentCreates: 20, noUnderscoreNames: true });

describe('azure store on the fake: layout and Key Vault specifics', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

  it('reads a key placed exactly as upstream KES stores it (value = the stored text)', async () => {
    const store = await open();
    const upstream = 'CiIKIHJhbmRvbS1rZXktYnl0ZXMtMzItYnl0ZXMtbG9uZy0tLRABEiIKIA==';
    fake.put('interop-upstream', upstream);
    expect(Buffer.from(await store.get('interop-upstream')).toString('utf8')).toBe(upstream);
    // And what we write is what upstream writes: one version whose value is the text.
    const legacy = '{"bytes":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}';
    await store.create('interop-ours', enc(legacy));
    const versions = fake.secrets.get('interop-ours');
    expect(versions?.map((v) => v.value)).toEqual([legacy]);
  });

  it('reads the oldest version (first writer wins), even when newer ones exist', async () => {
    const store = await open();
    fake.put('first-wins', 'first');
    fake.put('first-wins', 'second');
    expect(Buffer.from(await store.get('first-wins')).toString()).toBe('first');
    await expectKesError(store.create('first-wins', enc('third')), 'ERR_KES_KEY_EXISTS');
  });

  it('a create that lost a race against another writer reports ERR_KES_KEY_EXISTS and disables its version', async () => {
    const store = await open();
    // Another process writes between our existence check and our write.
    let raced = false;
    fake.failures.push({
      status: 500,
      match: (method, path) => {
        if (!raced && method === 'PUT' && path === '/secrets/raced') {
          raced = true;
          fake.put('raced', 'the other writer');
        }
        return false;
      },
    });
    await expectKesError(store.create('raced', enc('ours')), 'ERR_KES_KEY_EXISTS');
    fake.clearFailures();
    expect(fake.secrets.get('raced')?.map((v) => [v.value, v.enabled])).toEqual([
      ['the other writer', true],
      ['ours', false],
    ]);
    expect(Buffer.from(await store.get('raced')).toString()).toBe('the other writer');
  });

  it('rejects a disabled, not-yet-valid or expired first version', async () => {
    const store = await open();
    const now = Math.floor(Date.now() / 1000);
    fake.put('k-disabled', 'x', { enabled: false });
    fake.put('k-nbf', 'x', { nbf: now + 3600 });
    fake.put('k-exp', 'x', { exp: now - 10 });
    for (const [k, why] of [
      ['k-disabled', 'is disabled'],
      ['k-nbf', 'is not valid yet'],
      ['k-exp', 'has expired'],
    ] as const) {
      const err = await store.get(k).catch((e: unknown) => e as Error);
      expect((err as { code?: string }).code).toBe('ERR_KES_INTERNAL');
      expect(String((err as Error).cause)).toContain(`key '${k}' ${why}`);
    }
  });

  it('delete soft-deletes and purges (retrying while Key Vault still deletes), so the name can be reused', async () => {
    const slow = await FakeAzureKeyVault.start({ deletionDelayMs: 150 });
    try {
      const store = await createAzureKeyStore({
        endpoint: slow.url,
        credentials: slow.credentials,
        authorityHost: slow.url,
        tls: { ca: slow.caPem },
        environment: {},
        purgeRetryDelayMs: 20,
      });
      await store.create('purged', enc('v1'));
      await store.delete('purged');
      expect(slow.deleted.has('purged')).toBe(false);
      const purges = slow.requests.filter((r) => r.method === 'DELETE' && r.path === '/deletedsecrets/purged');
      expect(purges.length).toBeGreaterThan(1); // 409 while being deleted, then 204
      await store.create('purged', enc('v2'));
      expect(Buffer.from(await store.get('purged')).toString()).toBe('v2');
      // A soft-deleted leftover (e.g. deleted by upstream, which may not have purged) is purged by create.
      slow.put('leftover', 'old');
      slow.secrets.delete('leftover');
      slow.deleted.set('leftover', { versions: [], readyAt: 0 });
      await store.create('leftover', enc('new'));
      expect(Buffer.from(await store.get('leftover')).toString()).toBe('new');
      await store.close();
    } finally {
      await slow.stop();
    }
  });

  it('refuses names Key Vault cannot store before any request', async () => {
    const store = await open();
    const before = fake.requests.length;
    for (const name of ['has_underscore', '_', '../x', 'a/b', 'a%2Fb', '']) {
      await expectKesError(
        store.create(name, enc('x')),
        'ERR_KES_INVALID_KEY_NAME',
        `key name '${name}' is empty, too long or contains invalid characters`,
      );
      await expectKesError(store.get(name), 'ERR_KES_INVALID_KEY_NAME', `key name '${name}' is empty, too long or contains invalid characters`);
      await expectKesError(store.delete(name), 'ERR_KES_INVALID_KEY_NAME', `key name '${name}' is empty, too long or contains invalid characters`);
    }
    expect(fake.requests.length).toBe(before);
    const err = (await store.get('has_underscore').catch((e: unknown) => e)) as Error;
    expect(String(err.cause)).toContain('may only contain 0-9, a-z, A-Z and -');
  });

  it('follows nextLink for versions and secrets, but never to another host', async () => {
    const store = await open();
    for (let i = 0; i < 30; i++) fake.put('many-versions', `v${i}`);
    expect(Buffer.from(await store.get('many-versions')).toString()).toBe('v0');
    for (let i = 0; i < 30; i++) fake.put(`page-${i}`, 'x');
    fake.nextLinkOrigin = 'https://attacker.example';
    try {
      const before = fake.requests.length;
      const err = (await store.list('').catch((e: unknown) => e)) as Error;
      expect((err as { code?: string }).code).toBe('ERR_KES_KEYSTORE_UNAVAILABLE');
      expect(String(err.cause)).toContain('nextLink points to https://attacker.example');
      expect(fake.requests.length - before).toBe(1);
    } finally {
      fake.nextLinkOrigin = undefined;
    }
  });
});
