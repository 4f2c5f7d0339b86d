import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from './certificate.js';
import { identifyPeer, identitiesEqual, identityOfCertificate, identityOfPublicKey, isCACertificate, parseForwardedCertificate } from './identity.js';
import { expectKesErrorSync as expectKesError, loadVectors, thrown } from '../../../test/support/index.js';

interface Vectors {
  certificate_identity: { cases: Array<{ certificate_pem: string; spki_der_hex: string; identity: string; subject: string }> };
  tls_proxy_forwarded_certificate: {
    cases: Array<{
      cert_header_name: string;
      headers: Record<string, string[]>;
      expect_error: { status: number; message: string } | null;
      forwarded_identity?: string;
    }>;
  };
}
const vectors = loadVectors<Vectors>();

describe('identityOfCertificate (vectors: certificate_identity)', () => {
  it.each(vectors.certificate_identity.cases)('$subject', (c) => {
    const x509 = new X509Certificate(c.certificate_pem);
    expect(identityOfCertificate(c.certificate_pem)).toBe(c.identity);
    expect(identityOfCertificate(x509)).toBe(c.identity);
    expect(identityOfCertificate(new Uint8Array(x509.raw))).toBe(c.identity);
    expect(identityOfPublicKey(x509.publicKey)).toBe(c.identity);
    // The hash covers the SPKI, not the certificate.
    expect(x509.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')).toBe(c.spki_der_hex);
  });

  it('uses the first CERTIFICATE block of a PEM bundle', () => {
    const [a, b] = vectors.certificate_identity.cases;
    expect(identityOfCertificate(`${a!.certificate_pem}\n${b!.certificate_pem}`)).toBe(a!.identity);
  });

  it('rejects input that is not a certificate', () => {
    expectKesError(() => identityOfCertificate('hello'), 'ERR_KES_INVALID_CERTIFICATE', 'invalid certificate: no PEM CERTIFICATE block');
    expectKesError(
      () => identityOfCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])),
      'ERR_KES_INVALID_CERTIFICATE',
      'invalid certificate: malformed DER',
    );
    expectKesError(
      () => identityOfCertificate('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'),
      'ERR_KES_INVALID_CERTIFICATE',
      'invalid certificate: malformed PEM block',
    );
  });
});

describe('identityOfPublicKey', () => {
  it('accepts a private key by reducing it to its public half', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(identityOfPublicKey(privateKey)).toBe(identityOfPublicKey(publicKey));
    expect(identityOfPublicKey(publicKey)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects a secret key', async () => {
    const { createSecretKey } = await import('node:crypto');
    expectKesError(() => identityOfPublicKey(createSecretKey(Buffer.alloc(32))), 'ERR_KES_INVALID_ARGUMENT', 'key must be an asymmetric key');
  });
});

describe('isCACertificate and identifyPeer', () => {
  const ca = createSelfSignedCertificate({ commonName: 'CA', isCA: true });
  const caKey = createPrivateKey(ca.privateKeyPem);
  const leaf = createSelfSignedCertificate({ commonName: 'leaf', issuer: { certificatePem: ca.certificatePem, privateKey: caKey } });
  const other = createSelfSignedCertificate({ commonName: 'other' });

  it('reads basicConstraints', () => {
    expect(isCACertificate(ca.certificate)).toBe(true);
    expect(isCACertificate(leaf.certificate)).toBe(false);
    expect(isCACertificate(new Uint8Array(ca.certificate.raw))).toBe(true);
    // root.cert of the vectors: basicConstraints present with CA=false.
    expect(isCACertificate(new X509Certificate(vectors.certificate_identity.cases[0]!.certificate_pem))).toBe(false);
  });

  it('identifies the authenticated leaf; CA certificates in the chain are chain material', () => {
    expect(identifyPeer(leaf.certificate)).toBe(leaf.identity);
    expect(identifyPeer(leaf.certificate, [ca.certificate])).toBe(leaf.identity);
  });

  it('requires a client certificate', () => {
    expectKesError(() => identifyPeer(undefined), 'ERR_KES_CLIENT_CERT_REQUIRED', 'tls: client certificate is required');
    expectKesError(() => identifyPeer(undefined, [leaf.certificate]), 'ERR_KES_CLIENT_CERT_REQUIRED', 'tls: client certificate is required');
  });

  it('refuses a CA:TRUE leaf instead of skipping it (a forged second certificate never becomes the identity)', () => {
    // The attack: the handshake proves the CA leaf's key; the appended certificate carries the
    // victim's public key and was never verified. Upstream identifies the appended one.
    expectKesError(() => identifyPeer(ca.certificate), 'ERR_KES_CLIENT_CERT_REQUIRED', 'tls: client certificate is required');
    expectKesError(() => identifyPeer(ca.certificate, [leaf.certificate]), 'ERR_KES_CLIENT_CERT_REQUIRED', 'tls: client certificate is required');
  });

  it('rejects more than one client certificate', () => {
    expectKesError(
      () => identifyPeer(leaf.certificate, [other.certificate]),
      'ERR_KES_TOO_MANY_CLIENT_CERTS',
      'tls: received more than one client certificate',
    );
  });
});

describe('identitiesEqual', () => {
  it('compares exactly and case-sensitively', () => {
    const id = 'ea9826089311fe44d7590408ede9150f7c637b6cab0a91ee6fe1aa5d9fb366f6';
    expect(identitiesEqual(id, id)).toBe(true);
    expect(identitiesEqual(id, id.toUpperCase())).toBe(false);
    expect(identitiesEqual(id, id.slice(1))).toBe(false);
    expect(identitiesEqual('', '')).toBe(true);
  });
});

describe('parseForwardedCertificate (vectors: tls_proxy_forwarded_certificate)', () => {
  const codes: Record<string, string> = {
    'no client certificate is present': 'ERR_KES_PROXY_NO_CERT',
    'too many client certificates are present': 'ERR_KES_PROXY_TOO_MANY_CERTS',
    'invalid client certificate': 'ERR_KES_PROXY_INVALID_CERT',
  };

  it.each(vectors.tls_proxy_forwarded_certificate.cases.map((c, i) => ({ ...c, i })))('case $i', (c) => {
    // The proxy header is looked up by its configured name; other headers do not count.
    const values = c.cert_header_name === '' ? undefined : c.headers[c.cert_header_name];
    if (c.expect_error === null) {
      const cert = parseForwardedCertificate(values);
      expect(identityOfCertificate(cert)).toBe(c.forwarded_identity);
      // A single string works the same as a one-element list.
      expect(identityOfCertificate(parseForwardedCertificate(values![0]!))).toBe(c.forwarded_identity);
    } else {
      const e = thrown(() => parseForwardedCertificate(values));
      expect((e as { code: string }).code).toBe(codes[c.expect_error.message]);
      expect((e as Error).message).toBe(c.expect_error.message);
      expect((e as { status: number }).status).toBe(c.expect_error.status);
    }
  });

  it('treats a Node-joined header holding two certificates as too many', () => {
    const ok = vectors.tls_proxy_forwarded_certificate.cases[1]!;
    const value = ok.headers[ok.cert_header_name]![0]!;
    expectKesError(() => parseForwardedCertificate(`${value}, ${value}`), 'ERR_KES_PROXY_TOO_MANY_CERTS', 'too many client certificates are present');
  });

  it('treats an empty value or list as no certificate', () => {
    expectKesError(() => parseForwardedCertificate(''), 'ERR_KES_PROXY_NO_CERT', 'no client certificate is present');
    expectKesError(() => parseForwardedCertificate([]), 'ERR_KES_PROXY_NO_CERT', 'no client certificate is present');
  });

  it('rejects a PEM block of another type and an unparsable certificate', () => {
    const key = encodeURIComponent(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    expectKesError(() => parseForwardedCertificate(key), 'ERR_KES_PROXY_INVALID_CERT', 'invalid client certificate');
    const junk = encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expectKesError(() => parseForwardedCertificate(junk), 'ERR_KES_PROXY_INVALID_CERT', 'invalid client certificate');
  });

  it('refuses a forwarded CA:TRUE certificate (never a client identity)', () => {
    const ca = createSelfSignedCertificate({ commonName: 'forwarded CA', isCA: true });
    const escaped = encodeURIComponent(ca.certificatePem);
    expectKesError(() => parseForwardedCertificate(escaped), 'ERR_KES_PROXY_INVALID_CERT', 'invalid client certificate');
  });

  it('round-trips a generated certificate escaped like Go url.QueryEscape', () => {
    const c = createSelfSignedCertificate({ keyType: 'ecdsa-p256' });
    const escaped = encodeURIComponent(c.certificatePem).replace(/%20/g, '+');
    expect(identityOfCertificate(parseForwardedCertificate(escaped))).toBe(c.identity);
  });
});
