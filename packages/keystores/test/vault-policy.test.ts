// The least-privilege Vault policies of docs/keystores/vault.md, checked against OpenBao:
// a token holding only that policy passes the whole key-store contract (create-only,
// get, delete, list, status) and the version-record contract on K/V v1 and v2, with and
// without a prefix (then with the records in another mount), and is refused outside its
// paths. If the store ever needs another capability, this test says which.
import { afterAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { runKeyStoreContract } from './contract.js';
import { runVersionRecordContract } from './version-contract.js';
import { baoAddr, baoOk, mountKv, rand, unmount } from './vault-harness.js';

/** The policy text of docs/keystores/vault.md for engine `e` and prefix `p` ('' = none). */
function leastPrivilegePolicy(version: 'v1' | 'v2', e: string, p: string): string {
  const sub = p === '' ? '' : `${p}/`;
  if (version === 'v1') {
    return [
      `path "${e}/${sub}*" { capabilities = ["create", "read", "update", "delete"] }`,
      `path "${e}/${sub}" { capabilities = ["list"] }`,
      ...(p === '' ? [] : [`path "${e}/${p}" { capabilities = ["list"] }`]),
    ].join('\n');
  }
  return [
    `path "${e}/data/${sub}*" { capabilities = ["create", "read", "update"] }`,
    `path "${e}/metadata/${sub}*" { capabilities = ["read", "delete", "list"] }`,
    `path "${e}/metadata/${sub}" { capabilities = ["list"] }`,
    ...(p === '' ? [] : [`path "${e}/metadata/${p}" { capabilities = ["list"] }`]),
  ].join('\n');
}

/** The version-record lines of docs/keystores/vault.md for records in engine `e` under `vp` ('' = the mount root). */
function recordsPolicy(version: 'v1' | 'v2', e: string, vp: string): string {
  const sub = vp === '' ? '' : `${vp}/`;
  if (version === 'v1') return `path "${e}/${sub}*" { capabilities = ["create", "read", "update", "delete", "list"] }`;
  return [
    `path "${e}/data/${sub}*" { capabilities = ["create", "read", "update"] }`,
    `path "${e}/metadata/${sub}*" { capabilities = ["read", "delete", "list"] }`,
  ].join('\n');
}

const mounts: string[] = [];
const stores: KeyStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const m of mounts) await unmount(m);
});

/**
 * A fresh mount, the policy for it and a token holding only that policy. With an empty
 * prefix the records go to a second fresh mount (`versionsEngine`), else to `<prefix>.versions`.
 */
async function restricted(version: 'v1' | 'v2', prefix: string): Promise<{ engine: string; token: string; versionsEngine?: string }> {
  const engine = await mountKv(version);
  mounts.push(engine);
  const versionsEngine = prefix === '' ? await mountKv(version) : undefined;
  if (versionsEngine) mounts.push(versionsEngine);
  const policy = `kes-least-${rand()}`;
  const text = [
    leastPrivilegePolicy(version, engine, prefix),
    versionsEngine ? recordsPolicy(version, versionsEngine, '') : recordsPolicy(version, engine, `${prefix}.versions`),
  ].join('\n');
  await baoOk('PUT', `sys/policies/acl/${policy}`, { policy: text });
  const t = await baoOk('POST', 'auth/token/create', { policies: [policy], no_default_policy: true, ttl: '1h' });
  return { engine, token: t.auth.client_token as string, ...(versionsEngine ? { versionsEngine } : {}) };
}

describe.skipIf(!baoAddr)('Vault least-privilege policies (docs/keystores/vault.md)', () => {
  for (const version of ['v1', 'v2'] as const) {
    for (const prefix of ['', 'kes']) {
      runKeyStoreContract(
        `vault kv ${version}, prefix '${prefix}', token with only the documented policy`,
        async () => {
          const { engine, token } = await restricted(version, prefix);
          const store = createVaultKeyStore({ endpoint: baoAddr, token, engine, version, prefix });
          stores.push(store);
          return store;
        },
        { listSize: 300, concurrentCreates: 20 },
      );
      runVersionRecordContract(`vault kv ${version}, prefix '${prefix}', token with only the documented policy`, async () => {
        const { engine, token, versionsEngine } = await restricted(version, prefix);
        const store = createVaultKeyStore({ endpoint: baoAddr, token, engine, version, prefix, ...(versionsEngine ? { versionsEngine } : {}) });
        stores.push(store);
        return store;
      });
    }
  }

  it('the policy grants nothing outside its engine and prefix', async () => {
    const { engine, token } = await restricted('v2', 'kes');
    const other = createVaultKeyStore({ endpoint: baoAddr, token, engine, version: 'v2', prefix: 'other' });
    stores.push(other);
    await expect(other.create('k', new Uint8Array([1]))).rejects.toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE' });
    await expect(other.list('')).rejects.toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE' });
    await expect(other.versions!.create('k', '2', new Uint8Array([1]))).rejects.toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE' });
    await expect(other.versions!.list('k')).rejects.toMatchObject({ code: 'ERR_KES_KEYSTORE_UNAVAILABLE' });
  });
});
