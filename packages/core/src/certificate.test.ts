import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CertificateKeyType } from './certificate.js';
import { createSelfSignedCertificate } from './certificate.js';
import { isKesError } from './errors.js';
import { identityOfCertificate, identityOfPublicKey, isCACertificate } from './identity.js';
import { thrown } from '../../../test/support/index.js';

const DAY = 86_400_000;

const keyTypes: Array<[CertificateKeyType, string, Record<string, unknown>]> = [
  ['ed25519', 'ed25519', {}],
  ['ecdsa-p256', 'ec', { namedCurve: 'prime256v1' }],
  ['ecdsa-p384', 'ec', { namedCurve: 'secp384r1' }],
  ['rsa-2048', 'rsa', { modulusLength: 2048 }],
  ['rsa-3072', 'rsa', { modulusLength: 3072 }],
];

describe('createSelfSignedCertificate', () => {
  it.each(keyTypes)('%s: parses, carries the requested fields, and its identity is consistent', (keyType, asym, details) => {
    const notBefore = new Date('2030-01-02T03:04:05.678Z');
    const r = createSelfSignedCertificate({
      keyType,
      commonName: 'kes.example',
      dnsNames: ['localhost', 'kes.example'],
      ipAddresses: ['127.0.0.1', '::1', '2001:db8::ffff:1.2.3.4'],
      notBefore,
      validityDays: 10,
    });
    const cert = new X509Certificate(r.certificatePem);
    expect(cert.raw.equals(r.certificate.raw)).toBe(true);
    expect(cert.publicKey.asymmetricKeyType).toBe(asym);
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject(details);
    expect(cert.subject).toBe('CN=kes.example');
    expect(cert.issuer).toBe('CN=kes.example');
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, DNS:kes.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:FFFF:102:304',
    );
    expect(new Date(cert.validFrom).toISOString()).toBe('2030-01-02T03:04:05.000Z');
    expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(10 * DAY);
    expect(cert.ca).toBe(false);
    expect(isCACertificate(cert)).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(r.privateKeyPem))).toBe(true);
    expect(r.privateKeyPem.startsWith(`-----BEGIN ${'PRIVATE'} KEY-----\n`)).toBe(true); // PKCS#8 (built so no key-like literal sits in the source)
    expect(identityOfCertificate(cert)).toBe(r.identity);
    expect(identityOfPublicKey(cert.publicKey)).toBe(r.identity);
    // A 128-bit random positive serial: at most 16 bytes plus a sign byte.
    expect(cert.serialNumber).toMatch(/^[0-9A-F]{2,34}$/);
  });

  it('defaults: Ed25519, 30 days from now, empty subject, both EKUs, no SANs', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const r = createSelfSignedCertificate();
    const after = Date.now();
    const from = new Date(r.certificate.validFrom).getTime();
    expect(from).toBeGreaterThanOrEqual(before);
    expect(from).toBeLessThanOrEqual(after);
    expect(new Date(r.certificate.validTo).getTime() - from).toBe(30 * DAY);
    expect(r.certificate.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(r.certificate.subject ?? '').toBe('');
    expect(r.certificate.subjectAltName).toBeUndefined();
    expect(r.certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  });

  it('uses a given private key, notAfter and EKU list', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const notAfter = new Date('2060-06-01T00:00:00Z'); // GeneralizedTime range
    const r = createSelfSignedCertificate({ privateKey, notAfter, extKeyUsage: ['clientAuth'] });
    expect(r.identity).toBe(identityOfPublicKey(privateKey));
    expect(new Date(r.certificate.validTo).toISOString()).toBe('2060-06-01T00:00:00.000Z');
    expect(r.certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(createSelfSignedCertificate({ extKeyUsage: [] }).certificate.keyUsage).toBeUndefined();
  });

  it('creates CA certificates and CA-signed certificates that chain', () => {
    for (const caType of ['ed25519', 'ecdsa-p384', 'rsa-2048'] as const) {
      const ca = createSelfSignedCertificate({ keyType: caType, commonName: 'Test CA', isCA: true });
      expect(ca.certificate.ca).toBe(true);
      expect(isCACertificate(ca.certificate)).toBe(true);
      const leaf = createSelfSignedCertificate({
        keyType: 'ecdsa-p256',
        commonName: 'client',
        issuer: { certificatePem: ca.certificatePem, privateKey: createPrivateKey(ca.privateKeyPem) },
      });
      expect(leaf.certificate.issuer).toBe('CN=Test CA');
      expect(leaf.certificate.checkIssued(ca.certificate)).toBe(true);
      expect(leaf.certificate.verify(ca.certificate.publicKey)).toBe(true);
      expect(leaf.certificate.verify(leaf.certificate.publicKey)).toBe(false);
      expect(leaf.identity).toBe(identityOfPublicKey(leaf.certificate.publicKey));
    }
  });

  it('reports every invalid option at once', () => {
    const notCa = createSelfSignedCertificate({});
    const e = thrown(() =>
      createSelfSignedCertificate({
        validityDays: 0,
        dnsNames: ['', 'ok'],
        ipAddresses: ['1.2.3', '::1', 'fe80::1%eth0'],
        extKeyUsage: ['codeSigning' as never],
        issuer: { certificatePem: notCa.certificatePem, privateKey: generateKeyPairSync('ed25519').privateKey },
      }),
    );
    expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((e as Error).message).toBe(
      'invalid certificate options: validityDays must be a positive number; notAfter must be a valid date after notBefore; ' +
        'dnsNames[0] is not a valid DNS name; ipAddresses[0] is not a valid IPv4 or IPv6 address; ' +
        "ipAddresses[2] is not a valid IPv4 or IPv6 address; extKeyUsage[0] must be 'serverAuth' or 'clientAuth'; " +
        'issuer certificate is not a CA (basicConstraints CA=true); issuer.privateKey does not belong to the issuer certificate',
    );
  });

  it('rejects an unsupported private key', () => {
    const { privateKey } = generateKeyPairSync('ed448');
    const e = thrown(() => createSelfSignedCertificate({ privateKey }));
    expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((e as Error).message).toBe('invalid certificate options: privateKey must be an Ed25519, ECDSA (P-256/P-384/P-521) or RSA private key');
  });
});
