// Fault: the Vault token of a serving `kes` server expires or is revoked (issue 13, "Faults").
// A real `createKesServer()` over mTLS with the Vault key store logging in by AppRole to the
// shared OpenBao dev server; 8 clients keep creating keys and using them (every create and
// every first use of a key is a Vault call, so every request depends on a valid token).
// - Expiry: token TTL 2 s, max TTL 4 s. The store renews at 80 % of the TTL and logs in again
//   when the max TTL stops renewal; over 10 s the server goes through several tokens.
// - Revocation: every token of the AppRole mount is revoked (by accessor, as `bao token revoke
//   -accessor` does) three times while the clients run; a request that meets the dead token
//   gets Vault's 403, logs in again (once for all concurrent callers) and is retried.
// Both: zero failed requests, and several distinct tokens were really used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { bao, baoAddr, baoOk, mountKv, rand, setUpAppRole, unmount } from '../../keystores/test/vault-harness.js';
import { type FaultClient, faultClient, sleep } from './helpers/faults.js';

const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
const CLIENTS = 8;

const figures: Record<string, unknown> = {};
afterAll(() => console.log(`[faults-vault-token] ${JSON.stringify(figures)}`));

/** Accessors of the live tokens issued by logins at `auth/<engine>`. */
async function accessorsOf(engine: string): Promise<string[]> {
  const r = await baoOk('GET', 'auth/token/accessors?list=true');
  const out: string[] = [];
  for (const accessor of r.data.keys as string[]) {
    const t = await bao('POST', 'auth/token/lookup-accessor', { accessor });
    if (t.status === 200 && t.body.data.path === `auth/${engine}/login`) out.push(accessor);
  }
  return out;
}

describe.skipIf(!baoAddr)('Vault token expiry and revocation while serving', () => {
  let kv = '';
  const servers: KesServer[] = [];
  const clients: FaultClient[] = [];
  beforeAll(async () => {
    kv = await mountKv('v2');
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.close()));
    await unmount(kv);
  });

  async function serve(ttl: string, maxTtl: string): Promise<{ client: FaultClient; engine: string }> {
    const role = await setUpAppRole({ ttl, maxTtl });
    const server = await createKesServer({
      admin: admin.identity,
      keyStore: createVaultKeyStore({
        endpoint: baoAddr,
        engine: kv,
        version: 'v2',
        prefix: `token-${rand()}`,
        approle: { engine: role.engine, id: role.roleId, secret: role.secretId },
      }),
      tls: { cert: serverCert.certificatePem, key: serverCert.privateKeyPem },
      log: { error: 'off', audit: 'off' },
    });
    await server.listen(0, '127.0.0.1');
    servers.push(server);
    const client = faultClient(server.url, adminCert, CLIENTS);
    clients.push(client);
    return { client, engine: role.engine };
  }

  /** CLIENTS loops of create → generate → decrypt on fresh keys until `stop()`; failures are collected. */
  function traffic(client: FaultClient, tag: string) {
    let stopped = false;
    let requests = 0;
    const failures: string[] = [];
    const check = (what: string, r: { status: number; body: string; error?: string }): boolean => {
      requests++;
      if (r.status === 200) return true;
      failures.push(`${what}: ${r.status} ${r.error ?? r.body}`);
      return false;
    };
    const loops = Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; !stopped; i++) {
        const name = `${tag}-${c}-${i}`;
        if (!check(`create ${name}`, await client.call('PUT', `/v1/key/create/${name}`))) continue;
        const gen = await client.call('PUT', `/v1/key/generate/${name}`, '{}');
        if (!check(`generate ${name}`, gen)) continue;
        const { ciphertext, plaintext } = JSON.parse(gen.body) as { ciphertext: string; plaintext: string };
        const dec = await client.call('PUT', `/v1/key/decrypt/${name}`, JSON.stringify({ ciphertext }));
        if (check(`decrypt ${name}`, dec) && JSON.parse(dec.body).plaintext !== plaintext) failures.push(`decrypt ${name}: wrong plaintext`);
      }
    });
    return {
      stop: async () => {
        stopped = true;
        await Promise.all(loops);
        return { requests, failures };
      },
    };
  }

  it('tokens that expire (TTL 2 s, max TTL 4 s) are renewed and replaced: no request fails', async () => {
    const { client, engine } = await serve('2s', '4s');
    const seen = new Set<string>();
    const t = traffic(client, 'exp');
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      for (const a of await accessorsOf(engine)) seen.add(a);
      await sleep(300);
    }
    const { requests, failures } = await t.stop();
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(CLIENTS * 3);
    // 10 s at a 4 s max TTL: at least three logins.
    expect(seen.size).toBeGreaterThanOrEqual(3);
    figures.expiry = { requests, failures: failures.length, tokensUsed: seen.size };
  });

  it('tokens revoked while serving (three times) are replaced by a new login: no request fails', async () => {
    const { client, engine } = await serve('1h', '2h');
    const t = traffic(client, 'rev');
    const revoked: string[] = [];
    for (let round = 0; round < 3; round++) {
      await sleep(1_000);
      for (const accessor of await accessorsOf(engine)) {
        await baoOk('POST', 'auth/token/revoke-accessor', { accessor });
        revoked.push(accessor);
      }
    }
    await sleep(1_000);
    const { requests, failures } = await t.stop();
    expect(failures).toEqual([]);
    expect(revoked.length).toBeGreaterThanOrEqual(3);
    expect(new Set(revoked).size).toBe(revoked.length);
    // The server holds a live token again, one that was never revoked.
    const live = await accessorsOf(engine);
    expect(live.length).toBeGreaterThan(0);
    for (const a of live) expect(revoked).not.toContain(a);
    figures.revocation = { requests, failures: failures.length, tokensRevoked: revoked.length };
  });
});
