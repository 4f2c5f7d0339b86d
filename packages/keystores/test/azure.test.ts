// The Azure Key Vault store against a FAKE Key Vault (test/fakes/azure.ts, written
// from the public REST docs; no emulator runs here): the shared contract, the
// upstream layout (interop), soft delete + purge, first-writer-wins reads.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createAzureKeyStore } from '@kes/keystores/azure';
import type { AzureKeyStoreOptions } from '@kes/keystores/azure';
import { expectKesError, runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
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
runVersionRecordContract('azure (fake Key Vault)', () => open(), { noUnderscoreNames: true });

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

describe('azure store on the fake: version records', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const record = (name: string, id: string): string => {
    const base = `${name}--versions--${id}`;
    return base + '-'.repeat(Math.max(1, 81 - base.length));
  };

  it('keeps record <name>/<id> as secret "<name>--versions--<id>" padded with "-" past 80 characters, written like a key', async () => {
    const store = await open();
    await store.versions!.create('vr-layout', '2', enc('{"v":2}'));
    const name = record('vr-layout', '2');
    expect(name).toHaveLength(81);
    expect(name).toMatch(/^[0-9A-Za-z-]{1,127}$/); // Key Vault's alphabet
    expect(fake.secrets.get(name)?.map((v) => v.value)).toEqual(['{"v":2}']);
    // The longest key name and id still fit Key Vault's 127 characters.
    const long = 'L'.repeat(80);
    await store.versions!.create(long, 'c1234567890abcde', enc('x'));
    expect(fake.secrets.has(`${long}--versions--c1234567890abcde-`)).toBe(true);
    expect(await store.versions!.list(long)).toEqual(['c1234567890abcde']);
    expect(store.versions!.location).toBe(`${store.kind} secrets <name>--versions--<id>`);
  });

  it('list() never shows records, whatever the prefix', async () => {
    const store = await open();
    const p = `vl${randomBytes(3).toString('hex')}`;
    for (let i = 0; i < 4; i++) {
      await store.create(`${p}-${i}`, enc('k'));
      await store.versions!.create(`${p}-${i}`, '2', enc('r'));
      await store.versions!.create(`${p}-${i}`, 'c1', enc('c'));
    }
    const keys = Array.from({ length: 4 }, (_, i) => `${p}-${i}`);
    expect(await listAll(store, p)).toEqual(keys);
    expect((await listAll(store, '')).filter((n) => n.includes('--versions--'))).toEqual([]);
  });

  it('versions.list keeps only the exact records of one name', async () => {
    const store = await open();
    const n = `vx${randomBytes(3).toString('hex')}`;
    await store.versions!.create(n, '2', enc('a'));
    await store.versions!.create(`${n}-b`, '2', enc('b'));
    await store.versions!.create(`${n}--versions--2`, '3', enc('c'));
    fake.put(`${n}--versions--4`, 'short look-alike');
    fake.put(`${n}--versions--5-x${'-'.repeat(70)}`, 'something behind the id');
    expect(await store.versions!.list(n)).toEqual(['2']);
    expect(await store.versions!.list(`${n}-b`)).toEqual(['2']);
    expect(await store.versions!.list(`${n}--versions--2`)).toEqual(['3']);
  });

  it('a record create that lost a race reports ERR_KES_KEY_EXISTS and disables its version; delete purges', async () => {
    const store = await open();
    const name = record('vr-raced', '2');
    let raced = false;
    fake.failures.push({
      status: 500,
      match: (method, path) => {
        if (!raced && method === 'PUT' && path === `/secrets/${name}`) {
          raced = true;
          fake.put(name, 'the other writer');
        }
        return false;
      },
    });
    await expectKesError(store.versions!.create('vr-raced', '2', enc('ours')), 'ERR_KES_KEY_EXISTS');
    fake.clearFailures();
    expect(fake.secrets.get(name)?.map((v) => [v.value, v.enabled])).toEqual([
      ['the other writer', true],
      ['ours', false],
    ]);
    expect(Buffer.from(await store.versions!.get('vr-raced', '2')).toString()).toBe('the other writer');
    await store.versions!.delete('vr-raced', '2');
    expect(fake.secrets.has(name)).toBe(false);
    expect(fake.deleted.has(name)).toBe(false);
  });

  it('refuses names Key Vault cannot store (and ids, names that could escape) before any request', async () => {
    const store = await open();
    const before = fake.requests.length;
    await expectKesError(store.versions!.create('has_underscore', '2', enc('x')), 'ERR_KES_INVALID_ARGUMENT');
    await expectKesError(store.versions!.list('has_underscore'), 'ERR_KES_INVALID_ARGUMENT');
    await expectKesError(store.versions!.get('ok', 'A'), 'ERR_KES_INVALID_ARGUMENT');
    await expectKesError(store.versions!.delete('a.b', '2'), 'ERR_KES_INVALID_ARGUMENT');
    expect(fake.requests.length).toBe(before);
  });
});
