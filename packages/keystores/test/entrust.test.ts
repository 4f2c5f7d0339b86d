// The Entrust KeyControl store against a FAKE KeyControl (test/fakes/entrust.ts, HTTPS
// with a test CA): the shared contract, the upstream layout in both directions, and
// listing over server-side pages. No KeyControl emulator exists; see
// entrust-live.test.ts for the opt-in run against a real one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey, listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createEntrustKeyStore } from '@kes/keystores/entrust';
import type { EntrustKeyStoreOptions } from '@kes/keystores/entrust';
import { expectKesError, loadVectors } from '../../../test/support/index.js';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
import { startFakeEntrust } from './fakes/entrust.js';
import type { FakeEntrust } from './fakes/entrust.js';

let fake: FakeEntrust;
const stores: KeyStore[] = [];

beforeAll(async () => {
  fake = await startFakeEntrust({ maxPageSize: 100 });
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fake.close();
});

function options(extra: Partial<EntrustKeyStoreOptions> = {}): EntrustKeyStoreOptions {
  return {
    endpoint: fake.endpoint,
    vaultId: fake.vaultId,
    boxId: fake.boxId,
    credentials: { username: fake.username, password: fake.password },
    tls: { ca: fake.caPem },
    ...extra,
  };
}

async function open(extra: Partial<EntrustKeyStoreOptions> = {}): Promise<KeyStore> {
  const s = await createEntrustKeyStore(options(extra));
  stores.push(s);
  return s;
}

runKeyStoreContract('entrust keycontrol (fake KeyControl)', () => open(), { listSize: 1000 });
runVersionRecordContract('entrust keycontrol (fake KeyControl)', () => open());

interface Vectors {
  key_version_encode: { cases: { should_fail: boolean; expected_encoding_text?: string }[] };
  key_version_parse: { cases: { should_fail: boolean; raw_text: string }[] };
}

describe('entrust keycontrol: upstream layout (fake KeyControl)', () => {
  const vectors = loadVectors<Vectors>();
  let store: KeyStore;
  beforeAll(async () => {
    store = await open();
  });

  it('reads secrets as upstream KES writes them: secret_data = base64 of the stored value', async () => {
    const texts = [
      ...vectors.key_version_encode.cases.flatMap((c) => (c.should_fail ? [] : [c.expected_encoding_text!])),
      ...vectors.key_version_parse.cases.flatMap((c) => (c.should_fail ? [] : [c.raw_text])),
    ];
    expect(texts.length).toBeGreaterThan(1);
    for (const [i, text] of texts.entries()) {
      const name = `upstream-${i}`;
      // What upstream's CreateSecret puts into the box: Go marshals the []byte value as standard base64.
      fake.secrets.set(name, { secretData: Buffer.from(text, 'utf8').toString('base64'), expired: false });
      const got = await store.get(name);
      expect(Buffer.from(got).toString('utf8')).toBe(text);
      expect(MasterKey.parse(got)).toBeInstanceOf(MasterKey);
      expect(await listAll(store, name)).toEqual([name]);
    }
  });

  it('writes what upstream writes: CreateSecret with exactly {box_id, name, secret_data}', async () => {
    const text = vectors.key_version_encode.cases.find((c) => !c.should_fail)!.expected_encoding_text!;
    const key = MasterKey.parse(text);
    const value = key.encode();
    const from = fake.requests.length;
    await store.create('ours-1', value);
    const sent = fake.requests.slice(from).filter((r) => r.path === 'CreateSecret/');
    expect(sent).toHaveLength(1);
    // Byte for byte the body Go's encoding/json gives for upstream's request struct.
    const b64 = Buffer.from(value).toString('base64');
    expect(sent[0]!.raw).toBe(`{"box_id":${JSON.stringify(fake.boxId)},"name":"ours-1","secret_data":"${b64}"}`);
    expect(sent[0]!.token).toMatch(/^[0-9a-f]{48}$/);
    expect(fake.secrets.get('ours-1')).toEqual({ secretData: b64, expired: false });
    expect(MasterKey.parse(Buffer.from(fake.secrets.get('ours-1')!.secretData, 'base64')).encode()).toEqual(value);
  });

  it('sends upstream request shapes for get, delete, list and status', async () => {
    await store.create('shape-1', new Uint8Array([1, 2, 3]));
    const from = fake.requests.length;
    await store.get('shape-1');
    await store.list('shape-');
    await store.status();
    await store.delete('shape-1');
    const sent = fake.requests.slice(from).map((r) => [r.path, r.raw]);
    const box = JSON.stringify(fake.boxId);
    expect(sent[0]).toEqual(['CheckoutSecret/', `{"box_id":${box},"secret_id":"shape-1"}`]);
    // The first ListSecretIds page has no next_token at all (upstream omits an empty one).
    expect(sent[1]).toEqual(['ListSecretIds/', `{"box_id":${box},"max_items":256}`]);
    expect(sent.slice(-2)).toEqual([
      ['GetBox/', `{"box_id":${box}}`],
      ['DeleteSecret/', `{"box_id":${box},"secret_id":"shape-1"}`],
    ]);
  });

  it('finds the box by name as well as by id', async () => {
    const byName = await open({ boxId: 'kes-box' });
    await byName.create('by-name', new Uint8Array([7]));
    expect(await store.get('by-name')).toEqual(new Uint8Array([7]));
  });

  it('a secret whose secret_data is not base64 is an internal error, not a value', async () => {
    fake.secrets.set('corrupt', { secretData: '***', expired: false });
    const e = await expectKesError(store.get('corrupt'), 'ERR_KES_INTERNAL', 'internal server error');
    expect(String(e.cause)).toBe("Error: entrust keycontrol: the secret_data of key 'corrupt' is not base64");
  });
});

describe('entrust keycontrol: listing over server-side pages (fake KeyControl)', () => {
  let store: KeyStore;
  beforeAll(async () => {
    store = await open();
  });

  it('follows next_token over every page, sorts, filters by prefix, skips expired and non-KES names', async () => {
    const names = Array.from({ length: 250 }, (_, i) => `pg-${String(249 - i).padStart(3, '0')}`);
    for (const n of names) fake.secrets.set(n, { secretData: 'AA==', expired: false });
    fake.secrets.set('pg-expired', { secretData: 'AA==', expired: true });
    fake.secrets.set('pg not a kes name', { secretData: 'AA==', expired: false });
    const from = fake.requests.length;
    const all = await listAll(store, 'pg-');
    expect(all).toEqual([...names].sort());
    const pages = fake.requests.slice(from).filter((r) => r.path === 'ListSecretIds/');
    // The fake holds at most 100 per page, whatever max_items asks for.
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(fake.secrets.size / 100));
    expect((pages[0]!.body as Record<string, unknown>).next_token).toBeUndefined();
    expect(typeof (pages[1]!.body as Record<string, unknown>).next_token).toBe('string');
  });

  it('a page of a paged listing is served from one snapshot of the box', async () => {
    const first = await store.list('pg-', { limit: 100 });
    expect(first.names).toHaveLength(100);
    const from = fake.requests.length;
    const second = await store.list('pg-', { limit: 100, continueAt: first.continueAt });
    expect(second.names[0]).toBe(first.continueAt);
    expect(fake.requests.length).toBe(from);
  });

  it('an endless next_token chain fails with ERR_KES_KEYSTORE_UNAVAILABLE instead of looping', async () => {
    fake.loopPaging(true);
    try {
      const e = await expectKesError(store.list('zz'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
      expect(String(e.cause)).toMatch(/next_token it had returned before/);
    } finally {
      fake.loopPaging(false);
    }
  });
});

describe('entrust keycontrol: version records (fake KeyControl)', () => {
  let store: KeyStore;
  beforeAll(async () => {
    store = await open();
  });

  it('keeps record <name>/<id> as secret "<name>/versions/<id>", created, checked out and deleted like a key', async () => {
    const value = new TextEncoder().encode('{"v":2}');
    const from = fake.requests.length;
    await store.versions!.create('vr-layout', '2', value);
    expect(Buffer.from(await store.versions!.get('vr-layout', '2')).toString()).toBe('{"v":2}');
    await store.versions!.delete('vr-layout', '2');
    const box = JSON.stringify(fake.boxId);
    const b64 = Buffer.from(value).toString('base64');
    const sent = fake.requests.slice(from).filter((r) => r.path.endsWith('Secret/'));
    expect(sent.map((r) => [r.path, r.raw])).toEqual([
      ['CreateSecret/', `{"box_id":${box},"name":"vr-layout/versions/2","secret_data":"${b64}"}`],
      ['CheckoutSecret/', `{"box_id":${box},"secret_id":"vr-layout/versions/2"}`],
      ['DeleteSecret/', `{"box_id":${box},"secret_id":"vr-layout/versions/2"}`],
    ]);
    expect(fake.secrets.has('vr-layout/versions/2')).toBe(false);
    await expectKesError(store.versions!.get('vr-layout', '2'), 'ERR_KES_KEY_NOT_FOUND');
    expect(store.versions!.location).toBe(`${store.kind} secrets <name>/versions/<id>`);
  });

  it('list() never shows records; versions.list keeps only the exact records of one name (expired ones too)', async () => {
    for (let i = 0; i < 3; i++) {
      await store.create(`vl-${i}`, new Uint8Array([i]));
      await store.versions!.create(`vl-${i}`, '2', new Uint8Array([i]));
      await store.versions!.create(`vl-${i}`, 'c1', new Uint8Array([i]));
    }
    fake.secrets.set('vl-1/versions/X', { secretData: 'AA==', expired: false }); // not a record id
    fake.secrets.set('vl-1/versions/2/x', { secretData: 'AA==', expired: false });
    fake.secrets.set('xvl-1/versions/3', { secretData: 'AA==', expired: false });
    fake.secrets.set('vl-1/versions/4', { secretData: 'AA==', expired: true });
    expect(await listAll(store, 'vl-')).toEqual(['vl-0', 'vl-1', 'vl-2']);
    expect((await listAll(store, '')).filter((n) => n.includes('/'))).toEqual([]);
    expect((await store.versions!.list('vl-1')).sort()).toEqual(['2', '4', 'c1']);
    expect(await store.versions!.list('vl')).toEqual([]);
  });
});
