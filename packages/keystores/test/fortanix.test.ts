// The Fortanix DSM key store against the FAKE DSM server (test/fakes/fortanix.ts, written
// from Fortanix's public API documentation; no DSM emulator exists): the shared contract
// suite over HTTPS with the fake's own CA, the layout upstream KES writes and reads,
// and the listing that moves its cursor (upstream's never does).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey, isKesError, listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createFortanixKeyStore } from '@kes/keystores/fortanix';
import type { FortanixKeyStoreOptions } from '@kes/keystores/fortanix';
import { expectKesError, runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
import { startFakeFortanix } from './fakes/fortanix.js';
import type { FakeFortanix } from './fakes/fortanix.js';
import { rejection } from '../../../test/support/index.js';

let fake: FakeFortanix;
const stores: KeyStore[] = [];

beforeAll(async () => {
  fake = await startFakeFortanix({ groups: ['0d5e7f21-9c3a-4b8d-a1e2-f3c4b5a69788'] });
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await fake?.close();
});

async function open(o: Partial<FortanixKeyStoreOptions> = {}): Promise<KeyStore> {
  const s = await createFortanixKeyStore({ endpoint: fake.endpoint, apiKey: fake.apiKey, tls: { ca: fake.caPem }, ...o });
  stores.push(s);
  return s;
}

runKeyStoreContract('fortanix (fake DSM)', () => open(), { listSize: 2000, concurrentCreates: 50 });
runVersionRecordContract('fortanix (fake DSM)', () => open({ groupId: '0d5e7f21-9c3a-4b8d-a1e2-f3c4b5a69788' }));

describe('fortanix: layout shared with upstream KES (fake DSM)', () => {
  it('creates an OPAQUE object with EXPORT and APPMANAGEABLE whose value is base64 of the stored bytes', async () => {
    const store = await open();
    const key = MasterKey.generate();
    const stored = key.encode();
    await store.create('interop-ours', stored);
    const put = fake.requests.filter((r) => r.method === 'PUT' && r.path === '/crypto/v1/keys').at(-1);
    // Exactly the fields upstream sends, in its order, group omitted when not configured.
    expect(put?.body).toEqual({
      obj_type: 'OPAQUE',
      name: 'interop-ours',
      key_ops: ['EXPORT', 'APPMANAGEABLE'],
      value: Buffer.from(stored).toString('base64'),
      enabled: true,
    });
    expect(Object.keys(put?.body as object)).toEqual(['obj_type', 'name', 'key_ops', 'value', 'enabled']);
    const o = fake.byName('interop-ours');
    expect(o?.value).toBe(Buffer.from(stored).toString('base64'));
    // What an upstream reader does: base64-decode `value` and parse it as a key version.
    expect(Buffer.from(MasterKey.parse(Buffer.from(o!.value, 'base64')).encode()).equals(Buffer.from(stored))).toBe(true);
  });

  it('sends group_id when one is configured, and the object lands in that group', async () => {
    const group = '0d5e7f21-9c3a-4b8d-a1e2-f3c4b5a69788';
    const store = await open({ groupId: group });
    await store.create('interop-group', new Uint8Array([1, 2, 3]));
    const put = fake.requests.filter((r) => r.method === 'PUT').at(-1);
    expect(Object.keys(put?.body as object)).toEqual(['obj_type', 'name', 'group_id', 'key_ops', 'value', 'enabled']);
    expect(fake.byName('interop-group')?.group_id).toBe(group);
  });

  it('reads a key that upstream KES wrote (protobuf text and legacy JSON values)', async () => {
    const store = await open();
    const key = MasterKey.generate();
    const upstreamValue = Buffer.from(key.encode()).toString('utf8'); // base64 text of the protobuf KeyVersion
    fake.put('interop-upstream', Buffer.from(upstreamValue, 'utf8').toString('base64'));
    const got = await store.get('interop-upstream');
    expect(Buffer.from(got).toString('utf8')).toBe(upstreamValue);
    expect(Buffer.from(MasterKey.parse(got).encode()).toString('utf8')).toBe(upstreamValue);

    const legacy = JSON.stringify({ bytes: Buffer.alloc(32, 7).toString('base64') });
    fake.put('interop-legacy', Buffer.from(legacy).toString('base64'));
    expect(Buffer.from(await store.get('interop-legacy')).toString('utf8')).toBe(legacy);
    expect(MasterKey.parse(await store.get('interop-legacy')).algorithm).toBe('AES256');
  });

  it('refuses a disabled key with a clear error, and can still delete it', async () => {
    const store = await open();
    fake.put('interop-disabled', Buffer.from('x').toString('base64'), { enabled: false });
    const e = await rejection(store.get('interop-disabled'));
    expect(isKesError(e, 'ERR_KES_READ_KEY_FAILED')).toBe(true);
    expect(((e as Error).cause as Error).message).toBe(
      "fortanix: key 'interop-disabled' is disabled in Fortanix DSM (enable the security object to use it)",
    );
    await store.delete('interop-disabled');
    expect(fake.byName('interop-disabled')).toBeUndefined();
  });

  it('a value that is not base64 is a read failure, not garbage bytes', async () => {
    const store = await open();
    fake.put('interop-bad-value', 'not base64!');
    const e = await rejection(store.get('interop-bad-value'));
    expect(isKesError(e, 'ERR_KES_READ_KEY_FAILED')).toBe(true);
  });

  it('delete looks the name up (metadata only) and deletes by kid', async () => {
    const store = await open();
    await store.create('interop-del', new Uint8Array([9]));
    const kid = fake.byName('interop-del')!.kid;
    const before = fake.requests.length;
    await store.delete('interop-del');
    const calls = fake.requests.slice(before).map((r) => `${r.method} ${r.path}${r.method === 'GET' ? `?${r.query.toString()}` : ''}`);
    expect(calls).toEqual(['GET /crypto/v1/keys?name=interop-del&limit=2', `DELETE /crypto/v1/keys/${kid}`]);
  });

  it('ignores objects whose names are not KES names when listing', async () => {
    const store = await open();
    fake.put('other app/secret.pem', Buffer.from('x').toString('base64'));
    fake.put('interop-list-ok', Buffer.from('x').toString('base64'));
    const all = await listAll(store, '');
    expect(all).toContain('interop-list-ok');
    expect(all).not.toContain('other app/secret.pem');
  });

  it('refuses names that are not KES names before any request', async () => {
    const store = await open();
    const before = fake.requests.length;
    for (const bad of ['../x', 'a/b', 'a%2Fb', '', 'a b', 'x'.repeat(81)]) {
      await expectKesError(store.get(bad), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.create(bad, new Uint8Array([1])), 'ERR_KES_INVALID_KEY_NAME');
      await expectKesError(store.delete(bad), 'ERR_KES_INVALID_KEY_NAME');
    }
    expect(fake.requests.length).toBe(before);
  });
});

describe('fortanix: listing (fake DSM)', () => {
  it('moves the start cursor page by page (sort=name:asc, limit=100) until an empty page', async () => {
    const store = await open();
    const names = Array.from({ length: 250 }, (_, i) => `page-${String(i).padStart(3, '0')}`);
    for (const n of names) fake.put(n, 'AA==');
    const before = fake.requests.length;
    expect(await listAll(store, 'page-')).toEqual(names);
    const lists = fake.requests.slice(before).filter((r) => r.method === 'GET' && r.path === '/crypto/v1/keys');
    expect(lists.length).toBeGreaterThanOrEqual(2);
    expect(lists[0]!.query.get('sort')).toBe('name:asc');
    expect(lists[0]!.query.get('limit')).toBe('100');
    expect(lists[0]!.query.has('start')).toBe(false);
    const starts = lists.slice(1).map((r) => r.query.get('start'));
    // Every later request starts after the previous page's last name: the cursor moves.
    expect(new Set(starts).size).toBe(starts.length);
  });

  it('continueAt pages come from one snapshot (no re-fetch per page)', async () => {
    const store = await open();
    const first = await store.list('page-', { limit: 100 });
    expect(first.names).toHaveLength(100);
    const before = fake.requests.length;
    const second = await store.list('page-', { limit: 100, continueAt: first.continueAt });
    expect(second.names[0]).toBe(first.continueAt);
    expect(fake.requests.length).toBe(before);
  });

  it('a server that ignores the cursor is an error, not an endless loop (upstream loops until its context ends)', async () => {
    const store = await open();
    fake.ignoreListStart = true;
    try {
      const e = await rejection(store.list(''));
      expect(isKesError(e, 'ERR_KES_KEYSTORE_UNAVAILABLE')).toBe(true);
      expect(((e as Error).cause as Error).message).toMatch(/^fortanix: list: DSM returned '.+' twice: it does not move past start=/);
    } finally {
      fake.ignoreListStart = false;
    }
  });
});

describe('fortanix: version records (fake DSM)', () => {
  it('keeps record <name>/<id> as the OPAQUE object "<name>.versions.<id>", imported, exported and deleted like a key', async () => {
    const group = '0d5e7f21-9c3a-4b8d-a1e2-f3c4b5a69788';
    const store = await open({ groupId: group });
    const from = fake.requests.length;
    const value = new TextEncoder().encode('{"v":2}');
    await store.versions!.create('vr-layout', '2', value);
    const put = fake.requests.slice(from).find((r) => r.method === 'PUT' && r.path === '/crypto/v1/keys');
    expect(put?.body).toEqual({
      obj_type: 'OPAQUE',
      name: 'vr-layout.versions.2',
      group_id: group,
      key_ops: ['EXPORT', 'APPMANAGEABLE'],
      value: Buffer.from(value).toString('base64'),
      enabled: true,
    });
    expect(Buffer.from(await store.versions!.get('vr-layout', '2')).toString()).toBe('{"v":2}');
    await store.versions!.delete('vr-layout', '2');
    expect(fake.byName('vr-layout.versions.2')).toBeUndefined();
    await expectKesError(store.versions!.delete('vr-layout', '2'), 'ERR_KES_KEY_NOT_FOUND');
    expect(store.versions!.location).toBe(`${store.kind} objects <name>.versions.<id>`);
  });

  it('list() never shows records; versions.list keeps only the exact records of one name', async () => {
    const store = await open();
    const p = `vl${Date.now().toString(36)}`;
    for (let i = 0; i < 3; i++) {
      await store.create(`${p}-${i}`, new Uint8Array([i]));
      await store.versions!.create(`${p}-${i}`, '2', new Uint8Array([i]));
      await store.versions!.create(`${p}-${i}`, 'c1', new Uint8Array([i]));
    }
    fake.put(`${p}-1.versions.X`, 'AA=='); // not a record id
    fake.put(`${p}-1.versions.2.x`, 'AA==');
    fake.put(`x${p}-1.versions.3`, 'AA==');
    expect(await listAll(store, p)).toEqual([`${p}-0`, `${p}-1`, `${p}-2`]);
    expect((await listAll(store, '')).filter((n) => n.includes('.'))).toEqual([]);
    expect((await store.versions!.list(`${p}-1`)).sort()).toEqual(['2', 'c1']);
    expect(await store.versions!.list(p)).toEqual([]);
  });

  it('a disabled record is refused like a disabled key', async () => {
    const store = await open();
    fake.put('vr-off.versions.2', Buffer.from('x').toString('base64'), { enabled: false });
    const e = await rejection(store.versions!.get('vr-off', '2'));
    expect(isKesError(e, 'ERR_KES_READ_KEY_FAILED')).toBe(true);
  });
});
