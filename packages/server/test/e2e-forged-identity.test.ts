// Regression tests for the forged-identity attack of the first security review (docs/security.md,
// finding 1): over real TLS, a client that appends a certificate carrying someone else's public
// key must never be identified as that someone, directly or through a trusted TLS proxy.
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey, createSelfSignedCertificate, identityOfCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import type { KesServerOptions } from '../src/options.js';
import { createForgedChain } from './helpers/forged-chain.js';
import { createTestPki, credentials, request } from './helpers/tls-client.js';
import type { ClientCredentials } from './helpers/tls-client.js';

const pki = createTestPki();
const admin = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'admin', extKeyUsage: ['clientAuth'] });
const CERT_REQUIRED = '{"message":"tls: client certificate is required"\n}';
const TOO_MANY = '{"message":"tls: received more than one client certificate"\n}';

const servers: KesServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close({ timeoutMs: 2_000 })));
});

async function start(extra: Partial<KesServerOptions> = {}): Promise<KesServer> {
  const server = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem, ...extra.tls },
    log: { error: 'off', audit: 'off' },
    ...extra,
  });
  servers.push(server);
  await server.listen(0, '127.0.0.1');
  return server;
}

function attacker(chain: { cert: string; key: string }): ClientCredentials {
  return { ca: pki.ca.certificatePem, cert: chain.cert, key: chain.key };
}

describe('forged second certificate (tls.auth off)', () => {
  it('a CA:TRUE leaf followed by a certificate with the admin key is refused, not identified as admin', async () => {
    const server = await start();
    const chain = createForgedChain(admin.certificatePem);
    // Sanity: the forgery really carries the admin's public key (what made upstream pick it).
    expect(identityOfCertificate(chain.forged)).toBe(admin.identity);
    const status = await request(server.url, attacker(chain), { path: '/v1/status' });
    expect(status.status).toBe(400);
    expect(status.text()).toBe(CERT_REQUIRED);
    // Identify-only routes see no identity at all (upstream would describe the admin here).
    const self = await request(server.url, attacker(chain), { path: '/v1/identity/self/describe' });
    expect(self.text()).not.toContain(admin.identity);
    const create = await request(server.url, attacker(chain), { method: 'POST', path: '/v1/key/create/stolen' });
    expect(create.status).toBe(400);
    // Nothing was created: the real admin sees no key.
    const list = await request(server.url, credentials(pki, admin), { path: '/v1/key/list/' });
    expect(list.json<{ names: string[] }>().names).toEqual([]);
  });

  it('the same forgery against an API-key (Ed25519) admin is refused', async () => {
    const apiKey = ApiKey.generate();
    const server = await start({ admin: apiKey.identity });
    const cert = apiKey.createCertificate();
    const chain = createForgedChain(cert.certificatePem, { curve: 'ed25519' });
    const res = await request(server.url, attacker(chain), { path: '/v1/key/list/' });
    expect(res.status).toBe(400);
    expect(res.text()).toBe(CERT_REQUIRED);
  });

  it('a non-CA leaf with the forgery appended is "more than one client certificate", never the admin', async () => {
    const server = await start();
    const chain = createForgedChain(admin.certificatePem, { leafIsCA: false });
    const res = await request(server.url, attacker(chain), { path: '/v1/status' });
    expect(res.status).toBe(400);
    expect(res.text()).toBe(TOO_MANY);
  });

  it('the leaf alone is identified as itself; a real CA in the chain is fine', async () => {
    const leaf = pki.issue({ keyType: 'ecdsa-p256', commonName: 'client', extKeyUsage: ['clientAuth'] });
    const server = await start({ policies: { client: { allow: ['/v1/status'], identities: [leaf.identity] } } });
    const withChain: ClientCredentials = { ca: pki.ca.certificatePem, cert: leaf.certificatePem + pki.ca.certificatePem, key: leaf.privateKeyPem };
    const res = await request(server.url, withChain, { path: '/v1/identity/self/describe' });
    expect(res.status).toBe(200);
    expect(res.json<{ identity: string; admin?: boolean }>()).toMatchObject({ identity: leaf.identity });
    expect(res.json<{ admin?: boolean }>().admin).not.toBe(true);
  });

  it('a self-signed CA:TRUE certificate alone is refused', async () => {
    const server = await start();
    const ca = createSelfSignedCertificate({ keyType: 'ecdsa-p256', isCA: true, commonName: 'me' });
    const res = await request(server.url, credentials(pki, ca), { path: '/v1/status' });
    expect(res.status).toBe(400);
    expect(res.text()).toBe(CERT_REQUIRED);
  });
});

describe('forged TLS-proxy identity', () => {
  const proxy = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'proxy', extKeyUsage: ['clientAuth'] });
  const header = 'X-Tls-Client-Cert';
  const forwardAdmin = { [header]: encodeURIComponent(admin.certificatePem) };

  it('a client forging the proxy identity cannot forward the admin certificate', async () => {
    const server = await start({
      tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem, proxy: { identities: [proxy.identity], header } },
    });
    // The real proxy forwards the admin: works (the proxy is trusted by configuration).
    const real = await request(server.url, credentials(pki, proxy), { path: '/v1/identity/self/describe', headers: forwardAdmin });
    expect(real.status).toBe(200);
    expect(real.json<{ admin: boolean }>().admin).toBe(true);
    // An attacker that appends a forged certificate with the proxy's public key is not the proxy.
    const chain = createForgedChain(proxy.certificatePem);
    const res = await request(server.url, attacker(chain), { path: '/v1/status', headers: forwardAdmin });
    expect(res.status).toBe(400);
    expect(res.text()).toBe(CERT_REQUIRED);
  });

  it('the proxy cannot forward a CA:TRUE certificate as a client identity', async () => {
    const server = await start({
      tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem, proxy: { identities: [proxy.identity], header } },
    });
    const ca = createSelfSignedCertificate({ keyType: 'ecdsa-p256', isCA: true, commonName: 'forwarded-ca' });
    const res = await request(server.url, credentials(pki, proxy), {
      path: '/v1/status',
      headers: { [header]: encodeURIComponent(ca.certificatePem) },
    });
    expect(res.status).toBe(400);
    expect(res.text()).toBe('{"message":"invalid client certificate"\n}');
  });
});
