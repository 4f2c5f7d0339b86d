// The CipherTrust Manager (Gemalto KeySecure) key store against the FAKE CipherTrust
// Manager in test/fakes/gemalto.ts (no emulator of the appliance exists): the shared
// contract suite over HTTPS with the fake's CA, upstream layout interop, domains and
// paging. Live tests against a real CipherTrust Manager are in gemalto-live.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createGemaltoKeyStore } from '@kes/keystores/gemalto';
import type { GemaltoKeyStoreOptions } from '@kes/keystores/gemalto';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
import { startFakeCipherTrust } from './fakes/gemalto.js';
import type { FakeCipherTrust } from './fakes/gemalto.js';
import { expectKesError, loadVectors } from '../../../test/support/index.js';

interface Vectors {
  key_version_encode: { cases: { should_fail: boolean; expected_encoding_text?: string }[] };
  key_version_parse: { cases: { should_fail: boolean; raw_text: string }[] };
}
const vectors = loadVectors<Vectors>();

const TOKEN = 'root-refresh-token-0123456789';
const DOMAIN_TOKEN = 'domain-refresh-token-0123456789';

let fake: FakeCipherTrust;
const stores: KeyStore[] = [];

beforeAll(async () => {
  fake = await startFakeCipherTrust({ refreshTokens: { [TOKEN]: '', [DOMAIN_TOKEN]: 'kes' }, maxPageSize: 150 });
});
afterAll(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await fake.close();
});

async function open(extra: Partial<GemaltoKeyStoreOptions> = {}): Promise<KeyStore> {
  const s = await createGemaltoKeyStore({ endpoint: fake.url, credentials: { token: TOKEN }, tls: { ca: fake.caPem }, ...extra });
  stores.push(s);
  return s;
}

runKeyStoreContract('gemalto (fake CipherTrust Manager, HTTPS)', () => open(), { listSize: 2_000 });
runVersionRecordContract('gemalto (fake CipherTrust Manager, HTTPS)', () => open());

describe('gemalto: upstream layout interop (fake CipherTrust Manager)', () => {
  it('reads secrets written as upstream writes them (material = base64 protobuf or legacy JSON text)', async () => {
    const store = await open();
    const texts = [
      ...vectors.key_version_encode.cases.flatMap((c) => (c.should_fail ? [] : [c.expected_encoding_text!])),
      ...vectors.key_version_parse.cases.flatMap((c) => (c.should_fail ? [] : [c.raw_text])),
    ];
    expect(texts.length).toBeGreaterThan(1);
    for (const [i, text] of texts.entries()) {
      const name = `upstream-${i}`;
      fake.put(name, text, { dataType: 'seed' });
      const got = await store.get(name);
      expect(Buffer.from(got).toString('utf8')).toBe(text);
      expect(await listAll(store, name)).toEqual([name]);
    }
  });

  it('writes what upstream writes: POST /api/v1/vault/secrets {name, dataType: "seed", material: <value text>} with a Bearer JWT', async () => {
    const store = await open();
    const text = vectors.key_version_encode.cases.find((c) => !c.should_fail)!.expected_encoding_text!;
    const from = fake.requests.length;
    await store.create('ours-1', new TextEncoder().encode(text));
    const sent = fake.requests.slice(from).filter((r) => r.path === '/api/v1/vault/secrets' && r.method === 'POST');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.body).toEqual({ name: 'ours-1', dataType: 'seed', material: text });
    expect(sent[0]!.authorization).toMatch(/^Bearer fake\./);
    const stored = fake.secrets().get('ours-1')!;
    expect(stored.dataType).toBe('seed');
    expect(stored.material).toBe(text);
  });

  it('reads and deletes by name with ?type=name, as upstream', async () => {
    const store = await open();
    await store.create('by-name', new Uint8Array([0x41]));
    const from = fake.requests.length;
    await store.get('by-name');
    await store.delete('by-name');
    const calls = fake.requests.slice(from).map((r) => `${r.method} ${r.path}?${r.query}`);
    expect(calls).toEqual(['POST /api/v1/vault/secrets/by-name/export?type=name', 'DELETE /api/v1/vault/secrets/by-name?type=name']);
  });

  it('a value that is not UTF-8 text is stored escaped and read back byte-exact', async () => {
    const store = await open();
    const value = new Uint8Array([0xff, 0x00, 0xfe]);
    await store.create('binary', value);
    expect(fake.secrets().get('binary')!.material).toBe(`kes-ts:base64:${Buffer.from(value).toString('base64')}`);
    expect(await store.get('binary')).toEqual(value);
  });

  it('a secret without material is an internal error, not "not found"', async () => {
    const store = await open();
    fake.put('no-material', 'x');
    const s = fake.secrets().get('no-material')!;
    fake.secrets().set('no-material', { ...s, material: undefined as unknown as string });
    await expectKesError(store.get('no-material'), 'ERR_KES_INTERNAL');
  });
});

describe('gemalto: domains (fake CipherTrust Manager)', () => {
  it('logs in to the configured domain and sees only its secrets', async () => {
    const root = await open();
    const inDomain = await open({ credentials: { token: DOMAIN_TOKEN, domain: 'kes' } });
    await inDomain.create('dom-key', new Uint8Array([1]));
    expect(fake.secrets('kes').has('dom-key')).toBe(true);
    expect(fake.secrets('').has('dom-key')).toBe(false);
    await expectKesError(root.get('dom-key'), 'ERR_KES_KEY_NOT_FOUND');
    expect(await listAll(inDomain, '')).toEqual(['dom-key']);
    const login = fake.requests.filter((r) => r.path === '/api/v1/auth/tokens').map((r) => r.body);
    expect(login).toContainEqual({ grant_type: 'refresh_token', refresh_token: DOMAIN_TOKEN, domain: 'kes' });
    // The root domain is selected as upstream does: an empty domain.
    expect(login).toContainEqual({ grant_type: 'refresh_token', refresh_token: TOKEN, domain: '' });
  });
});

describe('gemalto: listing (fake CipherTrust Manager)', () => {
  it('pages with limit=200&skip=…, sorts client-side, skips names that are not KES names', async () => {
    const local = await startFakeCipherTrust({ refreshTokens: { t: '' }, maxPageSize: 70 });
    try {
      const store = await createGemaltoKeyStore({ endpoint: local.url, credentials: { token: 't' }, tls: { ca: local.caPem } });
      const names = Array.from({ length: 250 }, (_, i) => `k-${String(i).padStart(3, '0')}`);
      for (const n of names) local.put(n, 'v');
      local.put('not a kes name', 'v');
      local.put('x/y', 'v');
      const from = local.requests.length;
      expect(await listAll(store, '')).toEqual(names);
      const queries = local.requests
        .slice(from)
        .filter((r) => r.method === 'GET')
        .map((r) => r.query);
      // 252 secrets in pages of 70 (the server caps the 200 asked for): 4 requests, none after the end.
      expect(queries).toEqual(['limit=200&skip=0', 'limit=200&skip=70', 'limit=200&skip=140', 'limit=200&skip=210']);
      const page = await store.list('k-1', { limit: 30 });
      expect(page.names).toEqual(names.filter((n) => n.startsWith('k-1')).slice(0, 30));
      expect(page.continueAt).toBe('k-130');
      await store.close();
    } finally {
      await local.close();
    }
  });

  it('a total that overstates the secrets ends at the first empty page (upstream would loop)', async () => {
    const local = await startFakeCipherTrust({ refreshTokens: { t: '' } });
    try {
      const store = await createGemaltoKeyStore({ endpoint: local.url, credentials: { token: 't' }, tls: { ca: local.caPem } });
      for (const n of ['b', 'a', 'c']) local.put(n, 'v');
      local.totalOffset = 1_000;
      const from = local.requests.length;
      expect(await listAll(store, '')).toEqual(['a', 'b', 'c']);
      expect(
        local.requests
          .slice(from)
          .filter((r) => r.method === 'GET')
          .map((r) => r.query),
      ).toEqual(['limit=200&skip=0', 'limit=200&skip=3']);
      await store.close();
    } finally {
      await local.close();
    }
  });

  it('an answer that skipped a different number than asked fails the listing (as upstream), over plain HTTP too', async () => {
    const local = await startFakeCipherTrust({ refreshTokens: { t: '' }, http: true });
    try {
      const store = await createGemaltoKeyStore({ endpoint: local.url, credentials: { token: 't' } });
      local.put('a', 'v');
      expect(await listAll(store, '')).toEqual(['a']);
      local.skipOffset = 5;
      const e = await expectKesError(store.list(''), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
      expect(String(e.cause)).toBe('Error: gemalto: list: paging out of sync: asked to skip 0, the server skipped 5');
      await store.close();
    } finally {
      await local.close();
    }
  });
});

describe('gemalto: version records (fake CipherTrust Manager)', () => {
  it('keeps record <name>/<id> as secret "<name>.versions.<id>", written, exported and deleted like a key', async () => {
    const store = await open();
    const from = fake.requests.length;
    await store.versions!.create('vr-layout', '2', new TextEncoder().encode('{"v":2}'));
    expect(Buffer.from(await store.versions!.get('vr-layout', '2')).toString()).toBe('{"v":2}');
    await store.versions!.delete('vr-layout', '2');
    const calls = fake.requests.slice(from).filter((r) => r.path.startsWith('/api/v1/vault/'));
    expect(calls.map((r) => `${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`)).toEqual([
      'POST /api/v1/vault/secrets',
      'POST /api/v1/vault/secrets/vr-layout.versions.2/export?type=name',
      'DELETE /api/v1/vault/secrets/vr-layout.versions.2?type=name',
    ]);
    expect(calls[0]!.body).toEqual({ name: 'vr-layout.versions.2', dataType: 'seed', material: '{"v":2}' });
    expect(fake.secrets().has('vr-layout.versions.2')).toBe(false);
    expect(store.versions!.location).toBe(`${store.kind} secrets <name>.versions.<id>`);
  });

  it('list() never shows records; versions.list keeps only the exact records of one name', async () => {
    const local = await startFakeCipherTrust({ refreshTokens: { t: '' }, maxPageSize: 7 });
    try {
      const store = await createGemaltoKeyStore({ endpoint: local.url, credentials: { token: 't' }, tls: { ca: local.caPem } });
      for (let i = 0; i < 10; i++) {
        await store.create(`k-${i}`, new Uint8Array([i]));
        await store.versions!.create(`k-${i}`, '2', new Uint8Array([i]));
        await store.versions!.create(`k-${i}`, 'c1', new Uint8Array([i]));
      }
      local.put('k-1.versions.X', 'v'); // not a record id
      local.put('k-1.versions.2.x', 'v');
      local.put('xk-1.versions.3', 'v');
      const keys = Array.from({ length: 10 }, (_, i) => `k-${i}`);
      expect(await listAll(store, '')).toEqual(keys);
      expect(await listAll(store, 'k-1')).toEqual(['k-1']);
      expect((await store.versions!.list('k-1')).sort()).toEqual(['2', 'c1']);
      expect(await store.versions!.list('k')).toEqual([]);
      await store.close();
    } finally {
      await local.close();
    }
  });
});
