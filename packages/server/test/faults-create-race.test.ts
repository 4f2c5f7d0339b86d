// Fault: 50 clients import the same key name at once, each with its own key bytes (issue 13,
// "Faults"), through a real `createKesServer()` over mTLS, each client on its own connection.
// Exactly one import is acknowledged (200), the 49 others get `400 key already exists`,
// and the key the server holds is the winner's: a ciphertext the server makes opens locally
// with the winner's bytes (MasterKey from @kes/core) and with no loser's.
// Stores: fs (one server), and Vault K/V v2 with TWO servers sharing one OpenBao mount,
// the clients split between them (check-and-set decides across processes).
// packages/cli/test/scaling.test.ts races three servers with plain creates (3 clients);
// this raises it to 50 clients and proves whose key won.
// K/V v1 has no check-and-set: two servers can both "win" there (docs/keystores/vault.md).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, MasterKey, createSelfSignedCertificate } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createFsKeyStore } from '@kes/keystores/fs';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { baoAddr, baoToken, mountKv, rand, unmount } from '../../keystores/test/vault-harness.js';
import { type FaultClient, faultClient } from './helpers/faults.js';

const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', ipAddresses: ['127.0.0.1'] });
const CLIENTS = 50;
const ROUNDS = 3;
const dir = mkdtempSync(join(tmpdir(), 'kes-faults-race-'));
const servers: KesServer[] = [];
const clients: FaultClient[] = [];
const figures: Record<string, unknown> = {};

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
  console.log(`[faults-create-race] ${JSON.stringify(figures)}`);
});

async function serve(keyStore: KeyStore): Promise<FaultClient> {
  const server = await createKesServer({
    admin: admin.identity,
    keyStore,
    tls: { cert: serverCert.certificatePem, key: serverCert.privateKeyPem },
    log: { error: 'off', audit: 'off' },
  });
  await server.listen(0, '127.0.0.1');
  servers.push(server);
  const client = faultClient(server.url, adminCert);
  clients.push(client);
  return client;
}

/** One round: 50 imports of `name` spread over `via`; returns the winner's bytes after checking the replies. */
async function race(via: readonly FaultClient[], name: string): Promise<Buffer> {
  const keys = Array.from({ length: CLIENTS }, () => randomBytes(32));
  const replies = await Promise.all(
    keys.map((key, i) =>
      via[i % via.length]!.call('PUT', `/v1/key/import/${name}`, JSON.stringify({ key: key.toString('base64'), cipher: 'AES256' }), { fresh: true }),
    ),
  );
  const winners = replies.flatMap((r, i) => (r.status === 200 ? [i] : []));
  expect(winners).toHaveLength(1);
  for (const r of replies.filter((r) => r.status !== 200)) {
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toEqual({ message: 'key already exists' });
  }
  const winner = keys[winners[0]!]!;
  // Every server now serves the winner's key.
  for (const client of via) {
    const enc = await client.call('PUT', `/v1/key/encrypt/${name}`, JSON.stringify({ plaintext: Buffer.from(name).toString('base64') }));
    expect(enc.status).toBe(200);
    const ct = Buffer.from((JSON.parse(enc.body) as { ciphertext: string }).ciphertext, 'base64');
    const mine = MasterKey.import(winner, 'AES256');
    expect(Buffer.from(mine.decrypt(ct)).toString()).toBe(name);
    mine.destroy();
    // A loser's bytes do not open it (the check above is not vacuous).
    const loser = MasterKey.import(keys[(winners[0]! + 1) % CLIENTS]!, 'AES256');
    expect(() => loser.decrypt(ct)).toThrow();
    loser.destroy();
  }
  return winner;
}

describe('50 clients import the same name at once', () => {
  it('fs store: exactly one 200, 49 × 400 key already exists, the stored key is the winner’s', async () => {
    const client = await serve(createFsKeyStore({ path: join(dir, 'keys') }));
    for (let round = 0; round < ROUNDS; round++) await race([client], `same-${round}`);
    figures.fs = { requests: CLIENTS * ROUNDS, winnersPerName: 1, rounds: ROUNDS };
  });

  it.skipIf(!baoAddr)('two servers sharing one OpenBao (K/V v2): exactly one winner across both', async () => {
    const engine = await mountKv('v2');
    try {
      const prefix = `race-${rand()}`;
      const store = (): KeyStore => createVaultKeyStore({ endpoint: baoAddr, engine, version: 'v2', prefix, token: baoToken });
      const a = await serve(store());
      const b = await serve(store());
      for (let round = 0; round < ROUNDS; round++) await race([a, b], `same-${round}`);
      figures.vaultTwoServers = { requests: CLIENTS * ROUNDS, winnersPerName: 1, rounds: ROUNDS };
    } finally {
      await unmount(engine);
    }
  });
});
