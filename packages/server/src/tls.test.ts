import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate, isKesError } from '@kes/core';
import { clientAuthMode, loadTlsMaterial } from './tls.js';

const server = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], extKeyUsage: ['serverAuth'] });
const ipOnly = createSelfSignedCertificate({ keyType: 'ed25519', ipAddresses: ['::1'] });
const ca1 = createSelfSignedCertificate({ keyType: 'ed25519', commonName: 'ca1', isCA: true });
const ca2 = createSelfSignedCertificate({ keyType: 'ed25519', commonName: 'ca2', isCA: true });
const dir = mkdtempSync(join(tmpdir(), 'kes-tls-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKesError(err)) throw new Error(`expected a KesError, got ${String(err)}`);
  return { code: err.code, message: err.message };
}

describe('loadTlsMaterial', () => {
  it('accepts inline PEM (an IP SAN alone is enough) and sets TLS 1.2 as minimum', async () => {
    const m = await loadTlsMaterial({ cert: ipOnly.certificatePem, key: Buffer.from(ipOnly.privateKeyPem) });
    expect(m.auth).toBe('off');
    expect(m.leaf.fingerprint256).toBe(ipOnly.certificate.fingerprint256);
    expect(m.secureContext.minVersion).toBe('TLSv1.2');
    expect(m.secureContext.ca).toBeUndefined();
  });

  it('ignores CERTIFICATE blocks in the key file but rejects other PEM types', async () => {
    const combined = `${server.certificatePem}${server.privateKeyPem}`;
    await expect(loadTlsMaterial({ cert: server.certificatePem, key: combined })).resolves.toBeDefined();
    const bogus = `${server.privateKeyPem}-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n`;
    expect(await failure(loadTlsMaterial({ cert: server.certificatePem, key: bogus }))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: "tls: unexpected PEM block 'PUBLIC KEY' in private key file",
    });
    expect(await failure(loadTlsMaterial({ cert: server.certificatePem, key: server.certificatePem }))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'tls: no private key found',
    });
  });

  it('rejects a certificate file with a non-certificate block, and missing settings', async () => {
    expect(await failure(loadTlsMaterial({ cert: server.privateKeyPem, key: server.privateKeyPem }))).toEqual({
      code: 'ERR_KES_INVALID_CERTIFICATE',
      message: "invalid certificate: unexpected PEM block 'PRIVATE KEY' in the server certificate",
    });
    expect(await failure(loadTlsMaterial(undefined))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'tls: no server certificate configured (cert or certFile)',
    });
    expect(await failure(loadTlsMaterial({ cert: server.certificatePem }))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'tls: no server private key configured (key or keyFile)',
    });
  });

  it('reads CAs inline, from a file and from every file of a directory', async () => {
    writeFileSync(join(dir, 'ca1.pem'), ca1.certificatePem);
    const base = { cert: server.certificatePem, key: server.privateKeyPem };
    const fromFile = await loadTlsMaterial({ ...base, caFile: join(dir, 'ca1.pem'), ca: [ca2.certificatePem], auth: 'on' });
    expect(fromFile.auth).toBe('on');
    expect(fromFile.secureContext.ca).toHaveLength(2);

    const sub = mkdtempSync(join(dir, 'cadir-'));
    writeFileSync(join(sub, 'a.pem'), ca1.certificatePem);
    writeFileSync(join(sub, 'b.pem'), ca2.certificatePem + ca1.certificatePem);
    expect((await loadTlsMaterial({ ...base, caFile: sub })).secureContext.ca).toHaveLength(3);

    writeFileSync(join(sub, 'c.txt'), 'not pem');
    expect(await failure(loadTlsMaterial({ ...base, caFile: sub }))).toEqual({
      code: 'ERR_KES_INVALID_ARGUMENT',
      message: 'tls: CA file must contain only PEM CERTIFICATE blocks',
    });
  });
});

describe('clientAuthMode', () => {
  it('maps tls.auth and skip_auth to the handshake mode (spec §5.4)', () => {
    expect(clientAuthMode('off', false)).toBe('require-any');
    expect(clientAuthMode('on', false)).toBe('require-and-verify');
    expect(clientAuthMode('off', true)).toBe('request');
    expect(clientAuthMode('on', true)).toBe('verify-if-given');
  });
});
