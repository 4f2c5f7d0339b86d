// The Vault key store against a real OpenBao dev server: the shared contract on
// K/V v1 and v2, upstream's on-disk layout (both directions), prefixes, Transit
// wrapping, namespaces and option validation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAll } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createVaultKeyStore } from '@kes/keystores/vault';
import type { VaultKeyStoreOptions } from '@kes/keystores/vault';
import { runKeyStoreContract, expectKesError } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
import { bao, baoAddr, baoOk, baoToken, mountKv, rand, unmount } from './vault-harness.js';
import { loadVectors } from '../../../test/support/index.js';

const vectors = loadVectors<{
  key_version_encode: { cases: { expected_encoding_text?: string; should_fail: boolean }[] };
  key_version_parse: { cases: { raw_text?: string; should_fail: boolean }[] };
}>();
/** Values exactly as upstream KES writes them (base64 protobuf) and as older versions wrote them (JSON). */
const upstreamValues = [
  ...vectors.key_version_encode.cases.filter((c) => !c.should_fail && c.expected_encoding_text).map((c) => c.expected_encoding_text!),
  ...vectors.key_version_parse.cases.filter((c) => !c.should_fail && c.raw_text).map((c) => c.raw_text!),
];

const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

describe.skipIf(!baoAddr)('vault key store (OpenBao)', () => {
  const mounts: string[] = [];
  const stores: KeyStore[] = [];
  let kv1 = '';
  let kv2 = '';
  const open = (o: Omit<VaultKeyStoreOptions, 'endpoint'>): KeyStore => {
    const s = createVaultKeyStore({ endpoint: baoAddr, token: baoToken, ...o } as VaultKeyStoreOptions);
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    kv1 = await mountKv('v1');
    kv2 = await mountKv('v2');
    mounts.push(kv1, kv2);
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(mounts.map((m) => unmount(m)));
  });

  describe('contract', () => {
    // The contract suite registers its own hooks; it needs the mounts at open() time.
    const contractOpts = { listSize: 3_000, concurrentCreates: 50 };
    runKeyStoreContract(
      'vault kv v1',
      async () => createVaultKeyStore({ endpoint: baoAddr, token: baoToken, engine: kv1, version: 'v1', prefix: 'contract' }),
      contractOpts,
    );
    runKeyStoreContract(
      'vault kv v2',
      async () => createVaultKeyStore({ endpoint: baoAddr, token: baoToken, engine: kv2, version: 'v2', prefix: 'contract' }),
      contractOpts,
    );
  });

  describe('version-record contract', () => {
    for (const version of ['v1', 'v2'] as const) {
      const engine = (): string => (version === 'v1' ? kv1 : kv2);
      // Default place: `<prefix>.versions`, a sibling of the key folder.
      runVersionRecordContract(`vault kv ${version}, prefix`, async () =>
        createVaultKeyStore({ endpoint: baoAddr, token: baoToken, engine: engine(), version, prefix: `vc-${rand()}` }),
      );
      // Empty prefix: only with an explicit versionsPrefix (the folder shows in root listings) ...
      runVersionRecordContract(`vault kv ${version}, no prefix, versionsPrefix`, async () =>
        createVaultKeyStore({ endpoint: baoAddr, token: baoToken, engine: engine(), version, versionsPrefix: `vc-${rand()}.versions` }),
      );
      // ... or in another mount.
      runVersionRecordContract(`vault kv ${version}, no prefix, versionsEngine`, async () => {
        const other = await mountKv(version);
        mounts.push(other);
        return createVaultKeyStore({ endpoint: baoAddr, token: baoToken, engine: engine(), version, versionsEngine: other });
      });
    }
  });

  describe.each(['v1', 'v2'] as const)('version records on K/V %s', (version) => {
    const engine = (): string => (version === 'v1' ? kv1 : kv2);
    const data = (path: string): string => (version === 'v1' ? `${engine()}/${path}` : `${engine()}/data/${path}`);
    const folder = (path: string): string => (version === 'v1' ? `${engine()}/${path}` : `${engine()}/metadata/${path}`);
    const fields = (r: { body: any }): unknown => (version === 'v1' ? r.body.data : r.body.data.data);
    const listRaw = async (path: string): Promise<string[]> => {
      const r = await bao('GET', `${folder(path)}?list=true`);
      return r.status === 404 ? [] : (r.body.data.keys as string[]).sort();
    };

    it('live at <engine>/<prefix>.versions/<name>/<id>, one field named after the key; upstream’s listing is unchanged', async () => {
      const parent = `vr-${rand()}`;
      const prefix = `${parent}/keys`;
      const store = open({ engine: engine(), version, prefix });
      const versions = store.versions!;
      expect(versions.location).toBe(`vault:${baoAddr} ${engine()}/${prefix}.versions (kv ${version})`);
      await store.create('k', text('v1-value'));
      await versions.create('k', '2', text('v2-value'));
      await versions.create('k', 'c1', text('{"min":1}'));
      expect(fields(await bao('GET', data(`${prefix}.versions/k/2`)))).toEqual({ k: 'v2-value' });
      expect(fields(await bao('GET', data(`${prefix}.versions/k/c1`)))).toEqual({ k: '{"min":1}' });
      // What upstream lists (the key folder) holds the key only; the records sit beside it.
      expect(await listRaw(prefix)).toEqual(['k']);
      expect(await listRaw(parent)).toEqual(['keys.versions/', 'keys/']);
      expect(fields(await bao('GET', data(`${prefix}/k`)))).toEqual({ k: 'v1-value' });
      if (version === 'v2') {
        expect((await baoOk('GET', `${engine()}/metadata/${prefix}.versions/k/2`)).data.current_version).toBe(1);
      }
      await versions.delete('k', '2');
      expect((await bao('GET', data(`${prefix}.versions/k/2`))).status).toBe(404);
      if (version === 'v2') expect((await bao('GET', `${engine()}/metadata/${prefix}.versions/k/2`)).status).toBe(404); // every KV version gone
      expect(await versions.list('k')).toEqual(['c1']);
    });

    it('create never overwrites a record written by someone else; foreign entries are not listed', async () => {
      const prefix = `vr-clash-${rand()}`;
      const store = open({ engine: engine(), version, prefix });
      await baoOk('PUT', data(`${prefix}.versions/k/2`), version === 'v1' ? { k: 'theirs' } : { data: { k: 'theirs' } });
      await baoOk('PUT', data(`${prefix}.versions/k/Not-An-Id`), version === 'v1' ? { x: '1' } : { data: { x: '1' } });
      await baoOk('PUT', data(`${prefix}.versions/k/sub/3`), version === 'v1' ? { x: '1' } : { data: { x: '1' } });
      await expectKesError(store.versions!.create('k', '2', text('ours')), 'ERR_KES_KEY_EXISTS', 'key already exists');
      expect(fields(await bao('GET', data(`${prefix}.versions/k/2`)))).toEqual({ k: 'theirs' });
      expect(await store.versions!.list('k')).toEqual(['2']);
    });

    it('empty prefix: no versions unless versionsPrefix or versionsEngine is set; what the root listing then shows', async () => {
      const bare = open({ engine: engine(), version });
      expect(bare.versions).toBeUndefined();

      const id = rand();
      const vprefix = `vr-root-${id}.versions`;
      const explicit = open({ engine: engine(), version, versionsPrefix: vprefix });
      await explicit.create(`rk-${id}`, text('v'));
      await explicit.versions!.create('rk', '2', text('r'));
      // Upstream lists the engine root: it sees the folder entry (our list() skips it).
      expect(await listRaw('')).toContain(`${vprefix}/`);
      expect(await listAll(explicit, '')).not.toContain(`${vprefix}/`);
      for (const n of await listAll(explicit, '')) expect(n).toMatch(/^[0-9A-Za-z_-]+$/);

      const other = await mountKv(version);
      mounts.push(other);
      const separate = open({ engine: engine(), version, versionsEngine: other });
      await separate.versions!.create('rk2', '2', text('r'));
      expect(fields(await bao('GET', version === 'v1' ? `${other}/rk2/2` : `${other}/data/rk2/2`))).toEqual({ rk2: 'r' });
      expect(await listRaw('')).not.toContain('rk2/');
    });
  });

  describe.each(['v1', 'v2'] as const)('upstream layout on K/V %s', (version) => {
    const engine = (): string => (version === 'v1' ? kv1 : kv2);
    const dataPath = (prefix: string, name: string): string =>
      version === 'v1' ? `${engine()}/${prefix}/${name}` : `${engine()}/data/${prefix}/${name}`;
    const readRaw = async (prefix: string, name: string): Promise<Record<string, unknown> | undefined> => {
      const r = await bao('GET', dataPath(prefix, name));
      if (r.status !== 200) return undefined;
      return version === 'v1' ? r.body.data : r.body.data.data;
    };
    const writeRaw = async (prefix: string, name: string, value: string): Promise<void> => {
      await baoOk('PUT', dataPath(prefix, name), version === 'v1' ? { [name]: value } : { data: { [name]: value } });
    };

    it('reads values that upstream KES wrote', async () => {
      expect(upstreamValues.length).toBeGreaterThan(0);
      const prefix = `up-${rand()}`;
      const store = open({ engine: engine(), version, prefix });
      for (const [i, value] of upstreamValues.entries()) await writeRaw(prefix, `key-${i}`, value);
      for (const [i, value] of upstreamValues.entries()) {
        expect(Buffer.from(await store.get(`key-${i}`)).toString('utf8')).toBe(value);
      }
      expect(await listAll(store, '')).toEqual(upstreamValues.map((_, i) => `key-${i}`).sort());
    });

    it('writes one secret per key with a single field named after the key', async () => {
      const prefix = `ours-${rand()}`;
      const store = open({ engine: engine(), version, prefix });
      const value = upstreamValues[0]!;
      await store.create('my-key', text(value));
      expect(await readRaw(prefix, 'my-key')).toEqual({ 'my-key': value });
      if (version === 'v2') {
        const meta = await baoOk('GET', `${engine()}/metadata/${prefix}/my-key`);
        expect(meta.data.current_version).toBe(1);
      }
      await store.delete('my-key');
      expect(await readRaw(prefix, 'my-key')).toBeUndefined();
      if (version === 'v2') expect((await bao('GET', `${engine()}/metadata/${prefix}/my-key`)).status).toBe(404);
    });

    it('create never overwrites a secret written by someone else', async () => {
      const prefix = `clash-${rand()}`;
      const store = open({ engine: engine(), version, prefix });
      await writeRaw(prefix, 'taken', 'theirs');
      await expectKesError(store.create('taken', text('ours')), 'ERR_KES_KEY_EXISTS', 'key already exists');
      expect(await readRaw(prefix, 'taken')).toEqual({ taken: 'theirs' });
    });

    it('stores non-text values escaped, so they survive the JSON round trip', async () => {
      const prefix = `bin-${rand()}`;
      const store = open({ engine: engine(), version, prefix });
      const value = new Uint8Array([0xff, 0x00, 0xc3, 0x28]);
      await store.create('bin', value);
      expect(await readRaw(prefix, 'bin')).toEqual({ bin: `kes-ts:base64:${Buffer.from(value).toString('base64')}` });
      expect(await store.get('bin')).toEqual(value);
      // Text that merely looks like an escaped value or a Transit ciphertext is escaped too.
      for (const [i, t] of ['kes-ts:base64:AAAA', 'vault:v1:abc'].entries()) {
        await store.create(`look-${i}`, text(t));
        expect(Buffer.from(await store.get(`look-${i}`)).toString('utf8')).toBe(t);
      }
    });

    it('a secret without the key field is an internal error, not "not found"', async () => {
      const prefix = `odd-${rand()}`;
      const store = open({ engine: engine(), version, prefix });
      await baoOk('PUT', dataPath(prefix, 'odd'), version === 'v1' ? { other: 'x' } : { data: { other: 'x' } });
      await expectKesError(store.get('odd'), 'ERR_KES_INTERNAL', 'internal server error');
    });
  });

  it('K/V v2 reads version 1 even when later versions exist (first writer wins, as upstream)', async () => {
    const prefix = `ver-${rand()}`;
    const store = open({ engine: kv2, version: 'v2', prefix });
    await store.create('k', text('first'));
    await baoOk('PUT', `${kv2}/data/${prefix}/k`, { data: { k: 'second' } });
    expect(Buffer.from(await store.get('k')).toString()).toBe('first');
  });

  it('keeps keys under the prefix, cleans the prefix, and ignores sub-folders and foreign entries in listings', async () => {
    const base = `pfx-${rand()}`;
    const deep = open({ engine: kv1, prefix: `/${base}//a/b/` });
    const shallow = open({ engine: kv1, prefix: base });
    await deep.create('k1', text('v1'));
    expect((await baoOk('GET', `${kv1}/${base}/a/b/k1`)).data).toEqual({ k1: 'v1' });
    await shallow.create('k2', text('v2'));
    await baoOk('PUT', `${kv1}/${base}/not.a.kes.name`, { x: '1' });
    // `a/` is a folder and `not.a.kes.name` no KES name: neither is a key of `shallow`.
    expect(await listAll(shallow, '')).toEqual(['k2']);
    expect(await listAll(deep, '')).toEqual(['k1']);
    await expectKesError(shallow.get('k1'), 'ERR_KES_KEY_NOT_FOUND', 'key does not exist');
    // A missing prefix folder lists as empty (Vault answers 404).
    expect(await open({ engine: kv1, prefix: `${base}-none` }).list('')).toEqual({ names: [], continueAt: '' });
    // A mount that does not exist is a misconfiguration, not an empty store or a missing key.
    const typo = open({ engine: `${kv1}-typo` });
    await expectKesError(typo.get('k'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    await expectKesError(typo.list(''), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
  });

  it('pages listings with limit and continueAt', async () => {
    const store = open({ engine: kv2, version: 'v2', prefix: `page-${rand()}` });
    for (const n of ['b', 'a', 'c', 'd']) await store.create(n, text(n));
    expect(await store.list('', { limit: 3 })).toEqual({ names: ['a', 'b', 'c'], continueAt: 'd' });
    expect(await store.list('', { continueAt: 'c' })).toEqual({ names: ['c', 'd'], continueAt: '' });
  });

  it('rejects names that could escape the prefix before sending anything', async () => {
    const store = open({ engine: kv1, prefix: `esc-${rand()}` });
    for (const name of ['../x', 'a/b', 'a%2Fb', '.', '', 'x'.repeat(81)]) {
      await expectKesError(
        store.create(name, text('v')),
        'ERR_KES_INVALID_KEY_NAME',
        `key name '${name}' is empty, too long or contains invalid characters`,
      );
      await expectKesError(store.get(name), 'ERR_KES_INVALID_KEY_NAME', `key name '${name}' is empty, too long or contains invalid characters`);
      await expectKesError(store.delete(name), 'ERR_KES_INVALID_KEY_NAME', `key name '${name}' is empty, too long or contains invalid characters`);
    }
  });

  describe('transit', () => {
    let transit = '';
    beforeAll(async () => {
      transit = `transit-${rand()}`;
      mounts.push(transit);
      await baoOk('POST', `sys/mounts/${transit}`, { type: 'transit' });
      await baoOk('POST', `${transit}/keys/kes-wrap`, {});
    });

    it.each(['v1', 'v2'] as const)('stores a vault:v1: ciphertext on K/V %s and returns the original bytes', async (version) => {
      const prefix = `tr-${rand()}`;
      const engine = version === 'v1' ? kv1 : kv2;
      const store = open({ engine, version, prefix, transit: { engine: transit, key: 'kes-wrap' } });
      const value = text(upstreamValues[0]!);
      const binary = new Uint8Array([0, 0xff, 0x80, 7]);
      await store.create('wrapped', value);
      await store.create('wrapped-bin', binary);
      const raw = await bao('GET', version === 'v1' ? `${engine}/${prefix}/wrapped` : `${engine}/data/${prefix}/wrapped`);
      const field = (version === 'v1' ? raw.body.data : raw.body.data.data).wrapped as string;
      expect(field).toMatch(/^vault:v1:/);
      expect(field).not.toContain(upstreamValues[0]!);
      // Upstream's exact wrapping: the Transit plaintext is the base64 of the stored value.
      const dec = await baoOk('POST', `${transit}/decrypt/kes-wrap`, { ciphertext: field });
      expect(dec.data.plaintext).toBe(Buffer.from(value).toString('base64'));
      expect(await store.get('wrapped')).toEqual(value);
      expect(await store.get('wrapped-bin')).toEqual(binary);

      // Values stored before Transit was enabled are returned as stored.
      await baoOk(
        'PUT',
        version === 'v1' ? `${engine}/${prefix}/plain` : `${engine}/data/${prefix}/plain`,
        version === 'v1' ? { plain: 'as-is' } : { data: { plain: 'as-is' } },
      );
      expect(Buffer.from(await store.get('plain')).toString()).toBe('as-is');

      // A store without Transit cannot read wrapped values: an internal error, never the ciphertext.
      const bare = open({ engine, version, prefix });
      await expectKesError(bare.get('wrapped'), 'ERR_KES_INTERNAL', 'internal server error');
    });

    it('reads a value wrapped by upstream (written directly through the Vault API)', async () => {
      const prefix = `tr-up-${rand()}`;
      const value = upstreamValues[1] ?? upstreamValues[0]!;
      const enc = await baoOk('POST', `${transit}/encrypt/kes-wrap`, { plaintext: Buffer.from(value).toString('base64') });
      await baoOk('PUT', `${kv1}/${prefix}/up`, { up: enc.data.ciphertext });
      const store = open({ engine: kv1, prefix, transit: { engine: transit, key: 'kes-wrap' } });
      expect(Buffer.from(await store.get('up')).toString('utf8')).toBe(value);
    });

    it.each(['v1', 'v2'] as const)('wraps version records too (K/V %s)', async (version) => {
      const prefix = `tr-rec-${rand()}`;
      const engine = version === 'v1' ? kv1 : kv2;
      const store = open({ engine, version, prefix, transit: { engine: transit, key: 'kes-wrap' } });
      const value = text(upstreamValues[0]!);
      await store.versions!.create('k', '2', value);
      const raw = await bao('GET', version === 'v1' ? `${engine}/${prefix}.versions/k/2` : `${engine}/data/${prefix}.versions/k/2`);
      const field = (version === 'v1' ? raw.body.data : raw.body.data.data).k as string;
      expect(field).toMatch(/^vault:v1:/);
      expect((await baoOk('POST', `${transit}/decrypt/kes-wrap`, { ciphertext: field })).data.plaintext).toBe(Buffer.from(value).toString('base64'));
      expect(await store.versions!.get('k', '2')).toEqual(value);
      await expectKesError(open({ engine, version, prefix }).versions!.get('k', '2'), 'ERR_KES_INTERNAL', 'internal server error');
    });

    it('a missing transit mount makes create fail as unavailable and leaves nothing behind', async () => {
      const prefix = `tr-miss-${rand()}`;
      const store = open({ engine: kv1, prefix, transit: { engine: `${transit}-none`, key: 'kes-wrap' } });
      await expectKesError(store.create('k', text('v')), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
      expect((await bao('GET', `${kv1}/${prefix}/k`)).status).toBe(404);
    });
  });

  describe('namespace', () => {
    const ns = `ns-${rand()}`;
    let engine = '';
    beforeAll(async () => {
      await baoOk('POST', `sys/namespaces/${ns}`, {});
      engine = await mountKv('v2', ns);
    });
    afterAll(async () => {
      await unmount(engine, ns);
      await bao('DELETE', `sys/namespaces/${ns}`).catch(() => undefined);
    });

    it('sends X-Vault-Namespace: keys live inside the namespace, status works without it', async () => {
      const store = open({ engine, version: 'v2', namespace: ns, prefix: 'keys' });
      await store.create('in-ns', text('v'));
      expect((await baoOk('GET', `${engine}/data/keys/in-ns`, undefined, { namespace: ns })).data.data).toEqual({ 'in-ns': 'v' });
      // The same mount path in the root namespace does not exist.
      expect((await bao('GET', `${engine}/data/keys/in-ns`)).status).not.toBe(200);
      expect(await store.get('in-ns')).toEqual(text('v'));
      expect(await listAll(store, '')).toEqual(['in-ns']);
      expect((await store.status()).latencyMs).toBeGreaterThanOrEqual(0);
      // Without the namespace the store does not see the key.
      const outside = open({ engine, version: 'v2', prefix: 'keys' });
      await expectKesError(outside.get('in-ns'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    });
  });

  it('status reports a latency; kind names endpoint and mount but no token', async () => {
    const store = open({ engine: kv2, version: 'v2', prefix: 'p' });
    const s = await store.status();
    expect(s.latencyMs).toBeGreaterThanOrEqual(0);
    expect(store.kind).toBe(`vault:${baoAddr} ${kv2}/p (kv v2)`);
    expect(store.kind).not.toContain(baoToken);
  });
});
