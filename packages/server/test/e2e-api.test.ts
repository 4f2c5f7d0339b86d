// End-to-end: the KES API over real mTLS (HTTP/1.1) on 127.0.0.1: admin via an API-key
// certificate, ECDSA/RSA policy identities, a client without certificate, the TLS-proxy
// header, the 301 redirect, and graceful shutdown with a slow request and an open log stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import { createTestPki, credentials, openStream, request, tryRequest } from './helpers/tls-client.js';

const pki = createTestPki();
const admin = ApiKey.generate();
const adminCert = admin.createCertificate();
const ecdsa = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'app', extKeyUsage: ['clientAuth'] });
const rsa = createSelfSignedCertificate({ keyType: 'rsa-2048', commonName: 'reader', extKeyUsage: ['clientAuth'] });
const proxy = createSelfSignedCertificate({ keyType: 'ed25519', commonName: 'proxy', extKeyUsage: ['clientAuth'] });
const behindProxy = createSelfSignedCertificate({ keyType: 'ecdsa-p384', commonName: 'behind-proxy', extKeyUsage: ['clientAuth'] });

const FORBIDDEN = '{"message":"not authorized: insufficient permissions"\n}';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A memory store whose `create` of `slow-*` names takes `delayMs`, and which counts close(). */
function slowStore(delayMs: number): { store: KeyStore; closed: () => number } {
  const inner = createMemoryKeyStore();
  let closed = 0;
  const store: KeyStore = {
    kind: 'slow-memory',
    async create(name, value, options) {
      if (name.startsWith('slow-')) await new Promise((r) => setTimeout(r, delayMs));
      return inner.create(name, value, options);
    },
    get: (name, options) => inner.get(name, options),
    delete: (name, options) => inner.delete(name, options),
    list: (prefix, options) => inner.list(prefix, options),
    status: (options) => inner.status(options),
    async close() {
      closed++;
      return inner.close();
    },
  };
  return { store, closed: () => closed };
}

describe('KES API over mTLS', () => {
  let server: KesServer;
  const audit: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = await createKesServer({
      admin: admin.identity,
      keyStore: createMemoryKeyStore(),
      policies: {
        app: {
          allow: ['/v1/key/generate/app-*', '/v1/key/decrypt/app-*', '/v1/key/describe/*'],
          deny: ['/v1/key/describe/secret-*'],
          identities: [ecdsa.identity],
        },
        reader: { allow: ['/v1/key/describe/*'], identities: [rsa.identity] },
        proxied: { allow: ['/v1/key/describe/*'], identities: [behindProxy.identity] },
      },
      tls: {
        cert: pki.server.certificatePem,
        key: pki.server.privateKeyPem,
        proxy: { identities: [proxy.identity], header: 'X-Tls-Client-Cert' },
      },
      log: { error: 'off', audit: 'off' },
    });
    server.handler.on('audit', (e: object) => audit.push(e as Record<string, unknown>));
    await server.listen(0, '127.0.0.1');
  });
  afterAll(() => server.close());

  it('listens on an ephemeral port and reports its URL', () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toBe('https://127.0.0.1:0');
  });

  it('admin (Ed25519 API-key certificate) creates a key, generates a DEK and decrypts it', async () => {
    const creds = credentials(pki, adminCert);
    const created = await request(server.url, creds, { method: 'PUT', path: '/v1/key/create/app-key' });
    expect(created.status).toBe(200);
    expect(created.body.length).toBe(0);

    const context = b64('{"bucket":"photos"}');
    const gen = await request(server.url, creds, { method: 'POST', path: '/v1/key/generate/app-key', body: JSON.stringify({ context }) });
    expect(gen.status).toBe(200);
    expect(gen.headers['content-type']).toBe('application/json');
    const dek = gen.json<{ plaintext: string; ciphertext: string }>();
    expect(Buffer.from(dek.plaintext, 'base64')).toHaveLength(32);

    const dec = await request(server.url, creds, {
      method: 'POST',
      path: '/v1/key/decrypt/app-key',
      body: JSON.stringify({ ciphertext: dek.ciphertext, context }),
    });
    expect(dec.status).toBe(200);
    expect(dec.json<{ plaintext: string }>().plaintext).toBe(dek.plaintext);

    const desc = await request(server.url, creds, { path: '/v1/key/describe/app-key' });
    expect(desc.status).toBe(200);
    expect(desc.json<{ name: string; created_by: string }>()).toMatchObject({ name: 'app-key', created_by: admin.identity });
  });

  it('an ECDSA client certificate is identified by its public key and governed by its policy', async () => {
    const creds = credentials(pki, ecdsa);
    await request(server.url, credentials(pki, adminCert), { method: 'PUT', path: '/v1/key/create/secret-key' });

    const gen = await request(server.url, creds, { method: 'POST', path: '/v1/key/generate/app-key', body: '{}' });
    expect(gen.status).toBe(200);

    const create = await request(server.url, creds, { method: 'PUT', path: '/v1/key/create/app-other' });
    expect(create.status).toBe(403);
    expect(create.text()).toBe(FORBIDDEN);

    // deny beats allow: /v1/key/describe/* allows, /v1/key/describe/secret-* denies
    expect((await request(server.url, creds, { path: '/v1/key/describe/app-key' })).status).toBe(200);
    const denied = await request(server.url, creds, { path: '/v1/key/describe/secret-key' });
    expect(denied.status).toBe(403);
    expect(denied.text()).toBe(FORBIDDEN);
  });

  it('an RSA client certificate works the same way', async () => {
    const creds = credentials(pki, rsa);
    expect((await request(server.url, creds, { path: '/v1/key/describe/app-key' })).status).toBe(200);
    const gen = await request(server.url, creds, { method: 'POST', path: '/v1/key/generate/app-key', body: '{}' });
    expect(gen.status).toBe(403);
    expect(gen.text()).toBe(FORBIDDEN);
  });

  it('an identity without a policy is denied', async () => {
    const stranger = createSelfSignedCertificate({ keyType: 'ed25519', extKeyUsage: ['clientAuth'] });
    const res = await request(server.url, credentials(pki, stranger), { path: '/v1/key/describe/app-key' });
    expect(res.status).toBe(403);
    expect(res.text()).toBe(FORBIDDEN);
  });

  it('a client without certificate fails the handshake (default: certificate required)', async () => {
    const before = audit.length;
    const res = await tryRequest(server.url, credentials(pki), { path: '/v1/key/describe/app-key' });
    expect(res.ok).toBe(false);
    // The connection never reached the HTTP layer: nothing was audited.
    expect(audit.length).toBe(before);
  });

  it('a TLS proxy forwards the client certificate; the forwarded identity is authorized and audited', async () => {
    const res = await request(server.url, credentials(pki, proxy), {
      path: '/v1/key/describe/app-key',
      headers: { 'X-Tls-Client-Cert': encodeURIComponent(behindProxy.certificatePem), 'X-Forwarded-For': '203.0.113.7, 10.0.0.1' },
    });
    expect(res.status).toBe(200);
    const event = audit.findLast((e) => (e.request as { path?: string } | undefined)?.path === '/v1/key/describe/app-key');
    expect(event?.request).toMatchObject({ identity: behindProxy.identity, ip: '203.0.113.7' });
    expect(event?.response).toMatchObject({ code: 200 });

    // The forwarded identity's policy applies, not the proxy's.
    const denied = await request(server.url, credentials(pki, proxy), {
      method: 'POST',
      path: '/v1/key/generate/app-key',
      body: '{}',
      headers: { 'X-Tls-Client-Cert': encodeURIComponent(behindProxy.certificatePem) },
    });
    expect(denied.status).toBe(403);
    expect(denied.text()).toBe(FORBIDDEN);
  });

  it('a proxy request without forwarded certificate is rejected', async () => {
    const res = await request(server.url, credentials(pki, proxy), { path: '/v1/key/describe/app-key' });
    expect(res.status).toBe(400);
    expect(res.text()).toBe('{"message":"no client certificate is present"\n}');
  });

  it('a client that is not a proxy cannot impersonate another identity with the header', async () => {
    const res = await request(server.url, credentials(pki, ecdsa), {
      method: 'PUT',
      path: '/v1/key/create/app-forged',
      headers: { 'X-Tls-Client-Cert': encodeURIComponent(adminCert.certificatePem) },
    });
    expect(res.status).toBe(403);
    expect(res.text()).toBe(FORBIDDEN);
  });

  it('GET /v1/key/list answers 301 to /v1/key/list/ (query kept); following it lists the keys', async () => {
    const creds = credentials(pki, adminCert);
    const moved = await request(server.url, creds, { path: '/v1/key/list?prefix=x' });
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe('/v1/key/list/?prefix=x');

    const followed = await request(server.url, creds, { path: new URL(moved.headers.location!, server.url).pathname });
    expect(followed.status).toBe(200);
    expect(followed.json<{ names: string[] }>().names).toEqual(expect.arrayContaining(['app-key', 'secret-key']));
  });
});

describe('graceful close', () => {
  it('lets an in-flight request finish, ends log streams, closes the key store and stops accepting', async () => {
    const { store, closed } = slowStore(600);
    const server = await createKesServer({
      admin: admin.identity,
      keyStore: store,
      tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
      log: { error: 'off', audit: 'off' },
    });
    await server.listen(0, '127.0.0.1');
    const url = server.url;
    const creds = credentials(pki, adminCert);

    const stream = await openStream(url, creds, '/v1/log/audit');
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('application/x-ndjson');

    const slow = request(url, creds, { method: 'PUT', path: '/v1/key/create/slow-key' });
    await new Promise((r) => setTimeout(r, 150)); // the request is now waiting on the store
    await server.close({ timeoutMs: 5_000 });

    expect((await slow).status).toBe(200);
    await stream.ended; // the server ended the audit stream
    expect(closed()).toBe(1);
    const after = await tryRequest(url, creds, { path: '/v1/ready' });
    expect(after.ok).toBe(false);
    expect(!after.ok && after.error.code).toBe('ECONNREFUSED');
    await server.close(); // idempotent
    expect(closed()).toBe(1);
  });
});
