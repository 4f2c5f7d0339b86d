// TLS rejections (issue 13, hostile input): every kind of client certificate the server must
// not accept, with `tls.auth` off and on, each with the result docs/security.md and
// docs/compatibility.md document, and checked to never reach the HTTP layer (no audit record)
// where the documented result is a refused connection.
//
// Covered elsewhere and not repeated here: the forged second certificate with `tls.auth: off`
// (ECDSA and API-key admins, non-CA leaf, forged proxy identity) in e2e-forged-identity.test.ts;
// TLS 1.0/1.1, CBC and static-RSA suites and renegotiation in e2e-connection-limits.test.ts
// ("TLS hardening"); a self-signed certificate and none with `tls.auth: on` in e2e-tls.test.ts.
import { connect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from '@kes/core';
import type { SelfSignedCertificate } from '@kes/core';
import { createMemoryKeyStore } from '@kes/keystores/memory';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';
import type { KesServerOptions } from '../src/options.js';
import { createForgedChain } from './helpers/forged-chain.js';
import { createTestPki, credentials, request, tryRequest } from './helpers/tls-client.js';
import type { ClientCredentials } from './helpers/tls-client.js';

const pki = createTestPki();
const DAY = 86_400_000;
const admin = pki.issue({ keyType: 'ecdsa-p256', commonName: 'admin', extKeyUsage: ['clientAuth'] });
const caSignedStranger = pki.issue({ keyType: 'ed25519', commonName: 'stranger', extKeyUsage: ['clientAuth'] });
const selfSigned = createSelfSignedCertificate({ keyType: 'ed25519', commonName: 'self' });
const expired = pki.issue({
  keyType: 'ed25519',
  commonName: 'expired',
  notBefore: new Date(Date.now() - 10 * DAY),
  notAfter: new Date(Date.now() - DAY),
});
const notYetValid = pki.issue({ keyType: 'ed25519', commonName: 'future', notBefore: new Date(Date.now() + DAY), validityDays: 10 });
const serverAuthOnly = pki.issue({ keyType: 'ed25519', commonName: 'server-eku', extKeyUsage: ['serverAuth'] });
const expiredSelfSigned = createSelfSignedCertificate({
  keyType: 'ed25519',
  notBefore: new Date(Date.now() - 10 * DAY),
  notAfter: new Date(Date.now() - DAY),
});
const CA_CERT_AS_CLIENT = { certificatePem: pki.ca.certificatePem, privateKeyPem: pki.ca.privateKeyPem };

const CERT_REQUIRED = '{"message":"tls: client certificate is required"\n}';
const NOT_ALLOWED = '{"message":"not authorized: insufficient permissions"\n}';

const servers: KesServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close({ timeoutMs: 2_000 })));
});

interface Started {
  readonly server: KesServer;
  /** Paths of the audit records seen so far: a refused connection must add none. */
  readonly audits: string[];
}

async function start(auth: 'on' | 'off', extra: Partial<KesServerOptions> = {}): Promise<Started> {
  const all = [admin, caSignedStranger, selfSigned, expired, notYetValid, serverAuthOnly, expiredSelfSigned];
  const server = await createKesServer({
    admin: admin.identity,
    keyStore: createMemoryKeyStore(),
    log: { error: 'off', audit: 'off' },
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem, auth, ...(auth === 'on' ? { ca: pki.ca.certificatePem } : {}) },
    // Every test identity but the stranger may read the status: a refusal is then the TLS layer's doing, not the policy's.
    policies: {
      all: {
        allow: ['/v1/status', '/v1/identity/self/describe'],
        identities: all.filter((c) => c !== caSignedStranger && c !== admin).map((c) => c.identity),
      },
    },
    ...extra,
  });
  servers.push(server);
  await server.listen(0, '127.0.0.1');
  const audits: string[] = [];
  server.handler.on('audit', (e) => audits.push((e as { request: { path: string } }).request.path));
  return { server, audits };
}

/** The request fails at the TLS layer: refused in the handshake, or closed before any HTTP byte. */
async function expectRefused(s: Started, creds: ClientCredentials): Promise<string> {
  const before = s.audits.length;
  const out = await tryRequest(s.server.url, creds, { path: '/v1/status' });
  expect(out.ok, out.ok ? `served with ${out.response.status}` : '').toBe(false);
  expect(s.audits.length).toBe(before); // never reached the HTTP layer
  return out.ok ? '' : (out.error.code ?? out.error.message);
}

describe('tls.auth: off (default): identity by public key, certificate contents not trusted', () => {
  it('no client certificate: closed right after the handshake, before any HTTP byte', async () => {
    const s = await start('off');
    expect(await expectRefused(s, credentials(pki))).toMatch(/ECONNRESET|socket hang up|ERR_SSL/);
  });

  it('an unknown identity: 403 not authorized', async () => {
    const s = await start('off');
    const res = await request(s.server.url, credentials(pki, caSignedStranger), { path: '/v1/status' });
    expect([res.status, res.text()]).toEqual([403, NOT_ALLOWED]);
    expect(s.audits).toEqual(['/v1/status']);
  });

  it('a CA certificate as the client certificate: 400 tls: client certificate is required', async () => {
    const s = await start('off');
    const res = await request(s.server.url, credentials(pki, CA_CERT_AS_CLIENT), { path: '/v1/status' });
    expect([res.status, res.text()]).toEqual([400, CERT_REQUIRED]);
  });

  it('expired and not-yet-valid certificates are accepted: only possession of the key counts (documented)', async () => {
    const s = await start('off');
    for (const cert of [expired, notYetValid, expiredSelfSigned]) {
      const res = await request(s.server.url, credentials(pki, cert), { path: '/v1/identity/self/describe' });
      expect(res.status).toBe(200);
      expect(res.json<{ identity: string }>().identity).toBe(cert.identity);
    }
  });
});

describe('tls.auth: on: only certificates from tls.ca, valid now, for client authentication', () => {
  it('no client certificate: refused inside the handshake with the alert "certificate required"', async () => {
    const s = await start('on');
    expect(await expectRefused(s, credentials(pki))).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  });

  it.each([
    ['self-signed (unknown CA)', selfSigned],
    ['expired', expired],
    ['not yet valid', notYetValid],
    ['issued for serverAuth only', serverAuthOnly],
    ['expired and self-signed', expiredSelfSigned],
  ] as [string, SelfSignedCertificate][])('%s: closed right after the handshake, before any HTTP byte', async (_, cert) => {
    const s = await start('on');
    expect(await expectRefused(s, credentials(pki, cert))).toMatch(/ECONNRESET|socket hang up|ERR_SSL/);
  });

  it('the CA certificate itself as client: never an identity', async () => {
    const s = await start('on');
    const out = await tryRequest(s.server.url, credentials(pki, CA_CERT_AS_CLIENT), { path: '/v1/status' });
    // It chains to itself, so the handshake stands; the identification refuses a CA:TRUE leaf.
    expect(out.ok && [out.response.status, out.response.text()]).toEqual([400, CERT_REQUIRED]);
  });

  it('a CA-issued certificate of an unknown identity: 403 not authorized', async () => {
    const s = await start('on');
    const res = await request(s.server.url, credentials(pki, caSignedStranger), { path: '/v1/status' });
    expect([res.status, res.text()]).toEqual([403, NOT_ALLOWED]);
  });

  it('a forged admin certificate behind a self-signed CA:TRUE leaf: closed after the handshake', async () => {
    const s = await start('on');
    const chain = createForgedChain(admin.certificatePem);
    expect(await expectRefused(s, { ca: pki.ca.certificatePem, cert: chain.cert, key: chain.key })).toMatch(/ECONNRESET|socket hang up|ERR_SSL/);
  });

  it('a forged admin certificate appended to a valid CA-issued leaf: the caller is the leaf, never the admin', async () => {
    const s = await start('on');
    const chain = createForgedChain(admin.certificatePem);
    const creds = { ca: pki.ca.certificatePem, cert: caSignedStranger.certificatePem + chain.forged, key: caSignedStranger.privateKeyPem };
    const res = await request(s.server.url, creds, { path: '/v1/status' });
    // The forgery names an issuer other than the CA, so Node links nothing to the leaf: the
    // caller is the stranger the leaf belongs to (compatibility.md, "Extra client certificates").
    expect([res.status, res.text()]).toEqual([403, NOT_ALLOWED]);
    expect(res.text()).not.toContain(admin.identity);
    const self = await request(s.server.url, creds, { path: '/v1/identity/self/describe' });
    expect(self.text()).not.toContain(admin.identity);
  });

  it('the admin, for contrast, is served', async () => {
    const s = await start('on');
    expect((await request(s.server.url, credentials(pki, admin), { path: '/v1/status' })).status).toBe(200);
  });
});

describe('TLS parameters offered by the client', () => {
  function handshake(s: Started, options: ConnectionOptions): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: '127.0.0.1',
        port: Number(new URL(s.server.url).port),
        servername: 'localhost',
        ca: pki.ca.certificatePem,
        cert: admin.certificatePem,
        key: admin.privateKeyPem,
        ...options,
      });
      socket.once('secureConnect', () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().name}`);
        socket.destroy();
      });
      socket.once('error', reject);
    });
  }

  it('a TLS 1.2 client offering CBC suites first and one AEAD suite gets the AEAD suite; with CBC only it is refused (tls.auth on)', async () => {
    const s = await start('on');
    expect(
      await handshake(s, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256' }),
    ).toBe('TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256');
    await expect(handshake(s, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA' })).rejects.toThrow();
    await expect(handshake(s, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).rejects.toThrow();
    expect(s.audits).toEqual([]);
  });
});
