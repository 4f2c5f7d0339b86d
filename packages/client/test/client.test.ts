// @kes/client against the real server, in-process over TLS on 127.0.0.1: every method,
// API-key and certificate authentication, error codes, a large listing, timeouts and
// aborts, and the audit/error log streams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, KesError, MasterKey, createSelfSignedCertificate, isKesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createKesClient, isKesClientError } from '@kes/client';
import type { AuditEvent, KesClient } from '@kes/client';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { createTestPki } from '../../server/test/helpers/tls-client.js';

const pki = createTestPki();
const ca = pki.ca.certificatePem;
const admin = ApiKey.generate();
const app = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'app', extKeyUsage: ['clientAuth'] });
const te = new TextEncoder();

/** A memory store whose `create` of `slow-*` names takes 2 s (for timeouts and aborts). */
function slowStore(inner: KeyStore): KeyStore {
  return {
    kind: 'slow-memory',
    async create(name, value, options) {
      if (name.startsWith('slow-')) await new Promise((r) => setTimeout(r, 2000));
      return inner.create(name, value, options);
    },
    get: (name, options) => inner.get(name, options),
    delete: (name, options) => inner.delete(name, options),
    list: (prefix, options) => inner.list(prefix, options),
    status: (options) => inner.status(options),
    close: () => inner.close(),
  };
}

/** Rejects with what `p` rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<Error & { code?: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('@kes/client against the real server', () => {
  let server: KesServer;
  let client: KesClient;
  let appClient: KesClient;

  beforeAll(async () => {
    const store = createMemoryKeyStore();
    // More names than one key-store page (1024), written straight into the store.
    for (let i = 0; i < 1100; i++) {
      const key = MasterKey.generate();
      await store.create(`bulk-${String(i).padStart(4, '0')}`, key.encode());
      key.destroy();
    }
    server = await createKesServer({
      admin: admin.identity,
      keyStore: slowStore(store),
      policies: {
        app: {
          allow: ['/v1/key/generate/app-*', '/v1/key/decrypt/app-*', '/v1/key/describe/*'],
          deny: ['/v1/key/describe/secret-*'],
          identities: [app.identity],
        },
        'app-reader': { allow: ['/v1/key/describe/*'] },
      },
      tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
      log: { error: 'off', audit: 'off' },
      build: { version: '2025-01-01T00-00-00Z', commit: 'abc123' },
    });
    await server.listen(0, '127.0.0.1');
    client = createKesClient({ endpoints: server.url, apiKey: admin.toString(), ca });
    appClient = createKesClient({ endpoints: [server.url], cert: app.certificatePem, key: app.privateKeyPem, ca: [ca] });
  });
  afterAll(async () => {
    client?.close();
    appClient?.close();
    await server?.close();
  });

  describe('system routes', () => {
    it('version()', async () => {
      expect(await client.version()).toEqual({ version: '2025-01-01T00-00-00Z', commit: 'abc123' });
    });

    it('ready()', async () => {
      await expect(client.ready()).resolves.toBeUndefined();
    });

    it('status() maps the server fields to camelCase', async () => {
      const s = await client.status();
      expect(s).toMatchObject({ version: '2025-01-01T00-00-00Z', os: expect.any(String), arch: expect.any(String) });
      expect(s.uptime).toBeGreaterThanOrEqual(0);
      expect(s.numCpu).toBeGreaterThan(0);
      expect(s.numCpuUsed).toBeGreaterThan(0);
      expect(s.memHeapUsed).toBeGreaterThan(0);
      expect(s.memStackUsed).toBeGreaterThanOrEqual(0);
      expect(s.keystoreLatency).toBeGreaterThanOrEqual(1);
      expect(s.keystoreUnreachable).toBeUndefined();
    });

    it('metrics() returns Prometheus text', async () => {
      const text = await client.metrics();
      expect(text).toMatch(/^# (HELP|TYPE) kes_/m);
    });

    it('apis() lists every route with camelCase fields', async () => {
      const routes = await client.apis();
      expect(routes).toHaveLength(22);
      expect(routes).toContainEqual({ method: 'PUT', path: '/v1/key/create/', maxBody: 0, timeout: 15 });
      expect(routes).toContainEqual({ method: 'PUT', path: '/v1/key/import/', maxBody: 1_000_000, timeout: 15 });
      expect(routes).toContainEqual({ method: 'GET', path: '/v1/log/audit', maxBody: 0, timeout: 0 });
    });

    it('endpoints lists the parsed endpoints', () => {
      expect(client.endpoints).toEqual([server.url]);
    });
  });

  describe('keys', () => {
    it('createKey() + describeKey()', async () => {
      const before = Date.now();
      await client.createKey('my-key');
      const info = await client.describeKey('my-key');
      expect(info.name).toBe('my-key');
      expect(['AES256', 'ChaCha20']).toContain(info.algorithm);
      expect(info.createdBy).toBe(admin.identity);
      expect(info.createdAt).toBeInstanceOf(Date);
      expect((info.createdAt as Date).getTime()).toBeGreaterThanOrEqual(before - 1000);
    });

    it('createKey() of an existing key → ERR_KES_KEY_EXISTS (400)', async () => {
      await client.createKey('twice');
      const e = await failure(client.createKey('twice'));
      expect(e).toBeInstanceOf(KesError);
      expect(e).toMatchObject({ code: 'ERR_KES_KEY_EXISTS', status: 400, message: 'key already exists' });
    });

    it('importKey() with a cipher, and the server’s 406 for a wrong key size', async () => {
      await client.importKey('imported-chacha', { bytes: new Uint8Array(32).fill(7), cipher: 'ChaCha20' });
      await client.importKey('imported-aes', { bytes: new Uint8Array(32).fill(8) });
      expect((await client.describeKey('imported-chacha')).algorithm).toBe('ChaCha20');
      expect((await client.describeKey('imported-aes')).algorithm).toBe('AES256');
      const e = await failure(client.importKey('short', { bytes: new Uint8Array(16) }));
      expect(e).toMatchObject({ code: 'ERR_KES_INVALID_KEY_SIZE', status: 406, message: "invalid key size for 'AES256'" });
    });

    it('encrypt() / decrypt() round trip, bound to the context', async () => {
      await client.createKey('enc');
      const context = te.encode('{"bucket":"b"}');
      const ct = await client.encrypt('enc', te.encode('hello'), context);
      expect(ct.length).toBe(5 + 44);
      expect(Buffer.from(await client.decrypt('enc', ct, context)).toString()).toBe('hello');
      expect(await client.decrypt('enc', await client.encrypt('enc', new Uint8Array(0)))).toEqual(new Uint8Array(0));

      const wrong = await failure(client.decrypt('enc', ct, te.encode('other')));
      expect(wrong).toMatchObject({ code: 'ERR_KES_DECRYPT', status: 400, message: 'decryption failed: ciphertext is not authentic' });
      const garbage = await failure(client.decrypt('enc', new Uint8Array(10)));
      expect(garbage).toMatchObject({ code: 'ERR_KES_DECRYPT', status: 400 });
    });

    it('generateKey() gives a 32-byte data key whose ciphertext decrypts to it', async () => {
      await client.createKey('dek');
      const { plaintext, ciphertext } = await client.generateKey('dek', te.encode('ctx'));
      expect(plaintext).toBeInstanceOf(Uint8Array);
      expect(plaintext).toHaveLength(32);
      expect(ciphertext).toHaveLength(76);
      expect(await client.decrypt('dek', ciphertext, te.encode('ctx'))).toEqual(plaintext);
      const noContext = await client.generateKey('dek');
      expect(await client.decrypt('dek', noContext.ciphertext)).toEqual(noContext.plaintext);
    });

    it('hmac() is 32 bytes and deterministic per key', async () => {
      await client.createKey('mac');
      const a = await client.hmac('mac', te.encode('message'));
      expect(a).toHaveLength(32);
      expect(await client.hmac('mac', te.encode('message'))).toEqual(a);
      expect(await client.hmac('mac', te.encode('other'))).not.toEqual(a);
    });

    it('deleteKey(), then 404 ERR_KES_KEY_NOT_FOUND', async () => {
      await client.createKey('gone');
      await client.deleteKey('gone');
      const e = await failure(client.describeKey('gone'));
      expect(e).toMatchObject({ code: 'ERR_KES_KEY_NOT_FOUND', status: 404, message: 'key does not exist' });
      expect(await failure(client.deleteKey('gone'))).toMatchObject({ code: 'ERR_KES_KEY_NOT_FOUND' });
      expect(await failure(client.encrypt('gone', new Uint8Array(1)))).toMatchObject({ code: 'ERR_KES_KEY_NOT_FOUND' });
    });

    it('listKeys() by prefix, `prefix*`, `*` and everything (more names than one store page)', async () => {
      await client.createKey('list-a');
      await client.createKey('list-b');
      await client.createKey('listx');
      expect(await collect(client.listKeys('list-*'))).toEqual(['list-a', 'list-b']);
      expect(await collect(client.listKeys('list'))).toEqual(['list-a', 'list-b', 'listx']);
      expect(await collect(client.listKeys('list*'))).toEqual(['list-a', 'list-b', 'listx']);
      expect(await collect(client.listKeys('list-a'))).toEqual(['list-a']);
      expect(await collect(client.listKeys('nothing-*'))).toEqual([]);
      const bulk = await collect(client.listKeys('bulk-*'));
      expect(bulk).toHaveLength(1100);
      expect(bulk[0]).toBe('bulk-0000');
      expect(bulk.at(-1)).toBe('bulk-1099');
      const all = await collect(client.listKeys());
      expect(all.length).toBeGreaterThan(1100);
      expect(await collect(client.listKeys('*'))).toEqual(all);
      expect([...all].sort()).toEqual(all);
    });

    it('validates names and patterns before sending (same codes as the server)', async () => {
      expect(await failure(client.createKey('a/b'))).toMatchObject({
        code: 'ERR_KES_INVALID_KEY_NAME',
        message: "key name 'a/b' is empty, too long or contains invalid characters",
      });
      expect(await failure(client.describeKey(''))).toMatchObject({ code: 'ERR_KES_INVALID_KEY_NAME' });
      expect(await failure(collect(client.listKeys('a*b')))).toMatchObject({ code: 'ERR_KES_INVALID_PATTERN' });
      expect(await failure(collect(client.listKeys('a-')))).toMatchObject({
        code: 'ERR_KES_INVALID_PATTERN',
        message: "listing pattern 'a-' is empty, too long or is invalid",
      });
      expect(await failure(client.readPolicy('../x'))).toMatchObject({ code: 'ERR_KES_INVALID_POLICY_NAME' });
      expect(await failure(client.describeIdentity('a b'))).toMatchObject({ code: 'ERR_KES_INVALID_IDENTITY' });
      expect(await failure(client.encrypt('enc', 'text' as unknown as Uint8Array))).toMatchObject({
        code: 'ERR_KES_INVALID_ARGUMENT',
        message: 'plaintext must be a Uint8Array',
      });
    });
  });

  describe('policies and identities', () => {
    it('describePolicy(), readPolicy(), listPolicies()', async () => {
      const info = await client.describePolicy('app');
      expect(info).toMatchObject({ name: 'app', createdBy: admin.identity });
      expect(info.createdAt).toBeInstanceOf(Date);
      const policy = await client.readPolicy('app');
      expect(policy).toMatchObject({
        name: 'app',
        allow: ['/v1/key/decrypt/app-*', '/v1/key/describe/*', '/v1/key/generate/app-*'],
        deny: ['/v1/key/describe/secret-*'],
        createdBy: admin.identity,
      });
      expect((await client.readPolicy('app-reader')).deny).toEqual([]);
      expect(await collect(client.listPolicies())).toEqual(['app', 'app-reader']);
      expect(await collect(client.listPolicies('app-*'))).toEqual(['app-reader']);
      expect(await collect(client.listPolicies('app-r'))).toEqual(['app-reader']);
      expect(await failure(client.describePolicy('none'))).toMatchObject({ code: 'ERR_KES_POLICY_NOT_FOUND', status: 404 });
      expect(await failure(client.readPolicy('none'))).toMatchObject({ code: 'ERR_KES_POLICY_NOT_FOUND' });
    });

    it('describeIdentity(), listIdentities()', async () => {
      expect(await client.describeIdentity(admin.identity)).toMatchObject({ identity: admin.identity, admin: true, policy: '' });
      expect(await client.describeIdentity(app.identity)).toMatchObject({
        identity: app.identity,
        admin: false,
        policy: 'app',
        createdBy: admin.identity,
      });
      expect(await failure(client.describeIdentity('f'.repeat(64)))).toMatchObject({ code: 'ERR_KES_IDENTITY_NOT_FOUND', status: 404 });
      expect(await collect(client.listIdentities())).toEqual([admin.identity, app.identity].sort());
      expect(await collect(client.listIdentities(app.identity.slice(0, 10)))).toEqual([app.identity]);
    });

    it('describeSelf() for the admin (API key) and for a policy identity (certificate)', async () => {
      expect(await client.describeSelf()).toMatchObject({ identity: admin.identity, admin: true });
      const self = await appClient.describeSelf();
      expect(self).toMatchObject({ identity: app.identity, admin: false, createdBy: admin.identity });
      expect(self.policy).toMatchObject({ name: 'app', deny: ['/v1/key/describe/secret-*'] });
    });
  });

  describe('authentication and authorization', () => {
    it('a certificate identity may do what its policy allows, and gets 403 ERR_KES_NOT_ALLOWED otherwise', async () => {
      await client.createKey('app-1');
      const { plaintext, ciphertext } = await appClient.generateKey('app-1');
      expect(await appClient.decrypt('app-1', ciphertext)).toEqual(plaintext);
      expect((await appClient.describeKey('app-1')).name).toBe('app-1');
      const denied = await failure(appClient.createKey('app-2'));
      expect(denied).toBeInstanceOf(KesError);
      expect(denied).toMatchObject({ code: 'ERR_KES_NOT_ALLOWED', status: 403, message: 'not authorized: insufficient permissions' });
      await client.createKey('secret-1');
      expect(await failure(appClient.describeKey('secret-1'))).toMatchObject({ code: 'ERR_KES_NOT_ALLOWED' });
    });

    it('an ApiKey object works like its text form', async () => {
      const c = createKesClient({ endpoints: server.url, apiKey: admin, ca });
      try {
        expect((await c.describeSelf()).identity).toBe(admin.identity);
      } finally {
        c.close();
      }
    });

    it('without a client certificate: ERR_KES_CLIENT_TLS that asks for credentials', async () => {
      const c = createKesClient({ endpoints: server.url, ca });
      try {
        const e = await failure(c.status());
        expect(isKesClientError(e, 'ERR_KES_CLIENT_TLS')).toBe(true);
        expect(e.message).toBe(
          `${server.url} refused the TLS connection: it requires a client certificate — pass an API key (apiKey, KES_API_KEY) or a client certificate and key`,
        );
      } finally {
        c.close();
      }
    });

    it('an untrusted server certificate: ERR_KES_CLIENT_TLS; `insecure` connects anyway', async () => {
      const strict = createKesClient({ endpoints: server.url, apiKey: admin });
      const loose = createKesClient({ endpoints: server.url, apiKey: admin, insecure: true });
      try {
        const e = await failure(strict.version());
        expect(e).toMatchObject({ code: 'ERR_KES_CLIENT_TLS', endpoint: server.url });
        expect(e.message).toMatch(/^cannot verify the TLS certificate of https:\/\/127\.0\.0\.1:\d+: .+ — give the client the CA certificate/);
        expect((await loose.version()).commit).toBe('abc123');
      } finally {
        strict.close();
        loose.close();
      }
    });

    it('rejects conflicting or incomplete credentials', () => {
      expect(() => createKesClient({ endpoints: server.url, apiKey: admin, cert: app.certificatePem, key: app.privateKeyPem })).toThrow(
        'pass either apiKey or cert and key, not both',
      );
      expect(() => createKesClient({ endpoints: server.url, cert: app.certificatePem })).toThrow('cert and key must be given together');
      let e: unknown;
      try {
        createKesClient({ endpoints: server.url, apiKey: 'kes:v1:nope' });
      } catch (err) {
        e = err;
      }
      expect(isKesError(e, 'ERR_KES_INVALID_API_KEY')).toBe(true);
      expect(() => createKesClient({ endpoints: server.url, retries: -1 })).toThrow('retries must be a non-negative integer');
    });
  });

  describe('timeouts and aborts', () => {
    it('a call that takes longer than timeoutMs → ERR_KES_CLIENT_TIMEOUT', async () => {
      const t0 = Date.now();
      const e = await failure(client.createKey('slow-1', { timeoutMs: 200 }));
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(isKesClientError(e, 'ERR_KES_CLIENT_TIMEOUT')).toBe(true);
      expect(e.message).toBe(
        `POST /v1/key/create/slow-1 on ${server.url} timed out after 200 ms — the server or its key store is slow or not answering; try again, or raise the timeout`,
      );
    });

    it('the client-wide timeoutMs applies too', async () => {
      const c = createKesClient({ endpoints: server.url, apiKey: admin, ca, timeoutMs: 150 });
      try {
        expect(await failure(c.createKey('slow-2'))).toMatchObject({ code: 'ERR_KES_CLIENT_TIMEOUT' });
      } finally {
        c.close();
      }
    });

    it('an aborted call rejects with the signal’s reason', async () => {
      const ctl = new AbortController();
      const p = client.createKey('slow-3', { signal: ctl.signal });
      setTimeout(() => ctl.abort(), 100);
      const e = await failure(p);
      expect(e.name).toBe('AbortError');
      const reason = new Error('stop');
      expect(await failure(client.version({ signal: AbortSignal.abort(reason) }))).toBe(reason);
    });
  });

  describe('log streams', () => {
    it('auditLog() receives the audit event of a request and ends when the signal aborts', async () => {
      const ctl = new AbortController();
      const events: AuditEvent[] = [];
      const reading = (async () => {
        for await (const e of client.auditLog({ signal: ctl.signal })) {
          events.push(e);
          if (e.request.path === '/v1/key/create/audited') ctl.abort();
        }
      })();
      // The stream opens asynchronously: repeat the audited request until it shows up.
      for (let i = 0; i < 100 && !ctl.signal.aborted; i++) {
        await client.deleteKey('audited').catch(() => {});
        await client.createKey('audited');
        await new Promise((r) => setTimeout(r, 20));
      }
      await reading;
      const event = events.find((e) => e.request.path === '/v1/key/create/audited');
      expect(event).toMatchObject({ request: { path: '/v1/key/create/audited', identity: admin.identity }, response: { code: 200 } });
      expect(event?.time).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      expect(event?.response.time).toBeGreaterThanOrEqual(0);
    });

    it('errorLog() opens and ends when the signal aborts', async () => {
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(), 200);
      const got: unknown[] = [];
      for await (const e of client.errorLog({ signal: ctl.signal })) got.push(e);
      expect(ctl.signal.aborted).toBe(true);
    });

    it('a log stream of a policy identity without permission → ERR_KES_NOT_ALLOWED', async () => {
      const e = await failure(
        (async () => {
          for await (const _ of appClient.auditLog()) break;
        })(),
      );
      expect(e).toMatchObject({ code: 'ERR_KES_NOT_ALLOWED', status: 403 });
    });

    it('close() ends open streams; later calls fail with ERR_KES_CLIENT_CLOSED', async () => {
      const c = createKesClient({ endpoints: server.url, apiKey: admin, ca });
      const reading = (async () => {
        for await (const _ of c.auditLog()) {
          // no events expected
        }
        return 'ended';
      })();
      await new Promise((r) => setTimeout(r, 200));
      c.close();
      expect(await reading).toBe('ended');
      const e = await failure(c.version());
      expect(e).toMatchObject({ code: 'ERR_KES_CLIENT_CLOSED' });
    });
  });
});
