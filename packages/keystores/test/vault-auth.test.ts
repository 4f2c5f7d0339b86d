// Vault key-store authentication against a real OpenBao dev server: AppRole login,
// tokens that expire during the test (kept alive by renew-self, replaced by a new
// login when the max TTL is reached or the token is revoked), and Kubernetes login
// against a small TokenReview stub (the only fake here: no kube-apiserver is available).
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyStore } from '@kes/core';
import { createVaultKeyStore } from '@kes/keystores/vault';
import { expectKesError } from './contract.js';
import { bao, baoAddr, baoOk, mountKv, rand, setUpAppRole, unmount, writeKesPolicy } from './vault-harness.js';

const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Number of live tokens issued by logins at `auth/<engine>`. */
async function tokensOf(engine: string): Promise<number> {
  const r = await baoOk('GET', 'auth/token/accessors?list=true');
  let n = 0;
  for (const accessor of r.data.keys as string[]) {
    const t = await bao('POST', 'auth/token/lookup-accessor', { accessor });
    if (t.status === 200 && t.body.data.path === `auth/${engine}/login`) n++;
  }
  return n;
}

/** Uses the store once a second for `ms`, failing on the first error. */
async function keepUsing(store: KeyStore, name: string, value: Uint8Array, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let calls = 0;
  while (Date.now() < until) {
    expect(await store.get(name)).toEqual(value);
    calls++;
    await sleep(700);
  }
  return calls;
}

describe.skipIf(!baoAddr)('vault key store authentication (OpenBao)', () => {
  let kv = '';
  const stores: KeyStore[] = [];
  beforeAll(async () => {
    kv = await mountKv('v2');
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await unmount(kv);
  });

  it('logs in with AppRole on first use', async () => {
    const role = await setUpAppRole({ ttl: '1h', maxTtl: '2h' });
    const store = createVaultKeyStore({
      endpoint: baoAddr,
      engine: kv,
      version: 'v2',
      prefix: `ar-${rand()}`,
      approle: { engine: role.engine, id: role.roleId, secret: role.secretId },
    });
    stores.push(store);
    await store.create('k', text('v'));
    expect(await store.get('k')).toEqual(text('v'));
  });

  it('a wrong secret_id fails as unavailable, naming neither id nor secret', async () => {
    const role = await setUpAppRole({ ttl: '1h', maxTtl: '2h' });
    const wrong = randomUUID();
    const store = createVaultKeyStore({
      endpoint: baoAddr,
      engine: kv,
      version: 'v2',
      approle: { engine: role.engine, id: role.roleId, secret: wrong },
    });
    stores.push(store);
    let error: unknown;
    try {
      await store.get('k');
    } catch (e) {
      error = e;
    }
    await expectKesError(Promise.reject(error), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
    const cause = String((error as Error).cause);
    expect(cause).toMatch(/approle login at auth\/approle-[0-9a-f]+ failed: HTTP 400/);
    expect(cause).not.toContain(wrong);
    expect(cause).not.toContain(role.roleId);
  });

  it.concurrent('keeps a 3 s token alive past its TTL by renewing it (a second login would fail)', async () => {
    // The secret_id can be used once: every request after the first TTL proves renew-self works.
    const role = await setUpAppRole({ ttl: '3s', maxTtl: '1h', secretIdNumUses: 1 });
    const store = createVaultKeyStore({
      endpoint: baoAddr,
      engine: kv,
      version: 'v2',
      prefix: `renew-${rand()}`,
      approle: { engine: role.engine, id: role.roleId, secret: role.secretId },
    });
    stores.push(store);
    await store.create('k', text('renewed'));
    const calls = await keepUsing(store, 'k', text('renewed'), 8_000);
    expect(calls).toBeGreaterThan(5);
    // The one-use secret_id is spent: a fresh store cannot log in, so the old one renewed.
    const fresh = createVaultKeyStore({
      endpoint: baoAddr,
      engine: kv,
      version: 'v2',
      approle: { engine: role.engine, id: role.roleId, secret: role.secretId },
    });
    stores.push(fresh);
    await expectKesError(fresh.get('k'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
  }, 20_000);

  it.concurrent('logs in again when the max TTL ends renewal', async () => {
    const role = await setUpAppRole({ ttl: '2s', maxTtl: '4s' });
    const store = createVaultKeyStore({
      endpoint: baoAddr,
      engine: kv,
      version: 'v2',
      prefix: `relogin-${rand()}`,
      approle: { engine: role.engine, id: role.roleId, secret: role.secretId },
    });
    stores.push(store);
    await store.create('k', text('relogin'));
    // Tokens die after 4 s at the latest; 9 s of use needs at least two more logins.
    await keepUsing(store, 'k', text('relogin'), 9_000);
    // Exactly one token of this role is alive: old ones were not leaked by renewals gone wrong.
    expect(await tokensOf(role.engine)).toBe(1);
  }, 20_000);

  it('a revoked token gets a 403, which triggers one re-login and a retry', async () => {
    const role = await setUpAppRole({ ttl: '1h', maxTtl: '2h' });
    const store = createVaultKeyStore({
      endpoint: baoAddr,
      engine: kv,
      version: 'v2',
      prefix: `revoke-${rand()}`,
      approle: { engine: role.engine, id: role.roleId, secret: role.secretId },
    });
    stores.push(store);
    await store.create('k', text('v'));
    expect(await tokensOf(role.engine)).toBe(1);
    // Revoke every token issued by this AppRole mount.
    await baoOk('PUT', `sys/leases/revoke-prefix/auth/${role.engine}/login`, {});
    expect(await tokensOf(role.engine)).toBe(0);
    expect(await store.get('k')).toEqual(text('v'));
    await store.create('k2', text('v2'));
    expect(await tokensOf(role.engine)).toBe(1);
  });

  it('a static token that Vault rejects is unavailable (there is nothing to log in with)', async () => {
    const store = createVaultKeyStore({ endpoint: baoAddr, engine: kv, version: 'v2', token: `s.${randomBytes(12).toString('hex')}` });
    stores.push(store);
    await expectKesError(store.get('k'), 'ERR_KES_KEYSTORE_UNAVAILABLE', 'key store is unavailable');
  });

  describe('kubernetes', () => {
    let stub: Server;
    let stubUrl = '';
    const reviewed: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'kes-vault-k8s-'));
    const engine = `k8s-${rand()}`;
    const saUid = randomUUID();

    /** A well-formed (unsigned) service-account JWT; Vault delegates checking it to the TokenReview API. */
    const jwt = (jti: string): string => {
      const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      return [
        b64({ alg: 'RS256', typ: 'JWT' }),
        b64({
          iss: 'kubernetes/serviceaccount',
          sub: 'system:serviceaccount:kes-ns:kes',
          jti,
          'kubernetes.io/serviceaccount/namespace': 'kes-ns',
          'kubernetes.io/serviceaccount/service-account.name': 'kes',
          'kubernetes.io/serviceaccount/service-account.uid': saUid,
        }),
        randomBytes(32).toString('base64url'),
      ].join('.');
    };

    beforeAll(async () => {
      // The TokenReview stub: authenticates every token it is asked about and records it.
      stub = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          if (req.method !== 'POST' || req.url !== '/apis/authentication.k8s.io/v1/tokenreviews') {
            res.writeHead(404).end();
            return;
          }
          const token = (JSON.parse(body) as { spec: { token: string } }).spec.token;
          reviewed.push(token);
          res.writeHead(201, { 'Content-Type': 'application/json' }).end(
            JSON.stringify({
              kind: 'TokenReview',
              apiVersion: 'authentication.k8s.io/v1',
              status: { authenticated: true, user: { username: 'system:serviceaccount:kes-ns:kes', uid: saUid }, audiences: [] },
            }),
          );
        });
      });
      await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
      const addr = stub.address();
      stubUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const policy = await writeKesPolicy();
      await baoOk('POST', `sys/auth/${engine}`, { type: 'kubernetes' });
      // Vault insists on a cluster CA; the stub speaks plain HTTP, so any certificate does.
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=kes-test-k8s-ca',
          '-keyout',
          join(dir, 'ca.key'),
          '-out',
          join(dir, 'ca.crt'),
        ],
        { stdio: 'ignore' },
      );
      await baoOk('POST', `auth/${engine}/config`, {
        kubernetes_host: stubUrl,
        kubernetes_ca_cert: readFileSync(join(dir, 'ca.crt'), 'utf8'),
        disable_local_ca_jwt: true,
      });
      await baoOk('POST', `auth/${engine}/role/kes`, {
        bound_service_account_names: ['kes'],
        bound_service_account_namespaces: ['kes-ns'],
        token_policies: [policy],
        token_ttl: '1h',
      });
    });
    afterAll(async () => {
      await new Promise<void>((r) => stub.close(() => r()));
      await bao('DELETE', `sys/auth/${engine}`);
      rmSync(dir, { recursive: true, force: true });
    });

    it('logs in with a JWT given inline', async () => {
      const token = jwt('inline');
      const store = createVaultKeyStore({
        endpoint: baoAddr,
        engine: kv,
        version: 'v2',
        prefix: `k8s-${rand()}`,
        kubernetes: { engine, role: 'kes', jwt: token },
      });
      stores.push(store);
      await store.create('k', text('v'));
      expect(await store.get('k')).toEqual(text('v'));
      expect(reviewed).toContain(token);
    });

    it('re-reads the JWT file on every login', async () => {
      const file = join(dir, 'token');
      const first = jwt('first');
      writeFileSync(file, `${first}\n`);
      const store = createVaultKeyStore({
        endpoint: baoAddr,
        engine: kv,
        version: 'v2',
        prefix: `k8sf-${rand()}`,
        kubernetes: { engine, role: 'kes', jwt: file },
      });
      stores.push(store);
      await store.create('k', text('v'));
      expect(reviewed).toContain(first);

      // Kubernetes rotated the projected token; Vault revoked ours: the re-login must use the new file content.
      const second = jwt('second');
      writeFileSync(file, second);
      await baoOk('PUT', `sys/leases/revoke-prefix/auth/${engine}/login`, {});
      expect(await store.get('k')).toEqual(text('v'));
      expect(reviewed).toContain(second);
    });
  });
});
