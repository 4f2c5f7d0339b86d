import { X509Certificate, createPrivateKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import type { SecureVersion, TLSSocket } from 'node:tls';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ApiKey } from './api-key.js';
import { createSelfSignedCertificate } from './certificate.js';
import { isKesError } from './errors.js';
import { identifyPeer, identityOfCertificate, identityOfPublicKey, isCACertificate } from './identity.js';
import { expectKesErrorSync, loadVectors, thrown } from '../../../test/support/index.js';

interface Vectors {
  api_key_parse: { cases: Array<{ api_key: string; should_fail: boolean }> };
  api_key_identity: { cases: Array<{ api_key: string; identity: string; derived: { public_key_hex: string; spki_der_hex: string } }> };
}
const vectors = loadVectors<Vectors>();

function expectInvalid(text: string, why: string): void {
  const e = expectKesErrorSync(() => ApiKey.parse(text), 'ERR_KES_INVALID_API_KEY', `invalid API key: ${why}`);
  // The key itself must never be echoed.
  if (text.length > 8) expect((e as Error).message).not.toContain(text.slice(7));
}

describe('ApiKey.parse (vectors: api_key_parse)', () => {
  it.each(vectors.api_key_parse.cases)('$api_key fails: $should_fail', ({ api_key, should_fail }) => {
    if (should_fail) {
      expect(() => ApiKey.parse(api_key)).toThrow();
      expect(
        isKesError(
          thrown(() => ApiKey.parse(api_key)),
          'ERR_KES_INVALID_API_KEY',
        ),
      ).toBe(true);
    } else {
      expect(ApiKey.parse(api_key).toString()).toBe(api_key);
    }
  });

  it('reports the reasons of the vectors', () => {
    expectInvalid(vectors.api_key_parse.cases[1]!.api_key, 'invalid encoding');
    expectInvalid(vectors.api_key_parse.cases[2]!.api_key, 'unsupported type');
  });

  it('rejects wrong lengths and non-standard base64', () => {
    expectInvalid('kes:v1:AAAA', 'invalid length');
    expectInvalid('', 'invalid length');
    expectInvalid(`kes:v1:${Buffer.alloc(34).toString('base64')}`, 'invalid length');
    const good = vectors.api_key_parse.cases[0]!.api_key;
    expectInvalid(good.replace(/\+/g, '-').replace('A', '_'), 'invalid encoding'); // URL-safe alphabet
    expectInvalid(`${good} `, 'invalid encoding');
    expectInvalid(`kes:v1:${Buffer.alloc(32).toString('base64').replace(/=+$/, '')}`, 'invalid encoding'); // missing padding
  });

  it('accepts the key without its prefix', () => {
    const text = vectors.api_key_parse.cases[0]!.api_key;
    expect(ApiKey.parse(text.slice('kes:v1:'.length)).toString()).toBe(text);
  });
});

describe('ApiKey identity (vectors: api_key_identity)', () => {
  it.each(vectors.api_key_identity.cases)('$api_key', (c) => {
    const key = ApiKey.parse(c.api_key);
    expect(key.identity).toBe(c.identity);
    expect(identityOfPublicKey(key.publicKey)).toBe(c.identity);
    expect(key.publicKey.export({ type: 'spki', format: 'der' }).toString('hex')).toBe(c.derived.spki_der_hex);
    expect(key.toString()).toBe(c.api_key);
  });
});

describe('ApiKey', () => {
  it('generates distinct keys that round-trip through text and PKCS#8', () => {
    const a = ApiKey.generate();
    const b = ApiKey.generate();
    expect(a.identity).not.toBe(b.identity);
    expect(a.toString()).toMatch(/^kes:v1:A[A-P][A-Za-z0-9+/]{42}$/);
    expect(ApiKey.parse(a.toString()).identity).toBe(a.identity);
    const pem = a.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(ApiKey.fromPrivateKey(pem).toString()).toBe(a.toString());
    expect(ApiKey.fromPrivateKey(a.privateKey).toString()).toBe(a.toString());
  });

  it('signs with a key whose public half is `publicKey`', () => {
    const key = ApiKey.generate();
    const sig = sign(null, Buffer.from('hello'), key.privateKey);
    expect(verify(null, Buffer.from('hello'), key.publicKey, sig)).toBe(true);
  });

  it('rejects non-Ed25519 private keys', () => {
    const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    for (const input of [rsa, rsa.export({ type: 'pkcs8', format: 'pem' }) as string]) {
      const e = thrown(() => ApiKey.fromPrivateKey(input));
      expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
      expect((e as Error).message).toBe('privateKey must be an Ed25519 private key');
    }
    const e = thrown(() => ApiKey.fromPrivateKey('not a key'));
    expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((e as Error).message).toBe('privateKey is not a PEM private key');
  });

  it('never shows the secret in JSON or inspect output', () => {
    const key = ApiKey.generate();
    const secret = key.toString().slice('kes:v1:'.length);
    expect(JSON.stringify({ key })).toBe(`{"key":{"identity":"${key.identity}"}}`);
    expect(inspect(key)).toBe(`ApiKey { identity: '${key.identity}' }`);
    expect(inspect({ nested: [key] }, { depth: 5 })).not.toContain(secret);
    expect(Object.keys(key)).toEqual([]);
  });
});

describe('ApiKey.createCertificate', () => {
  it('builds the kms-go style client certificate', () => {
    const key = ApiKey.generate();
    const before = Math.floor(Date.now() / 1000) * 1000;
    const { certificatePem, privateKeyPem } = key.createCertificate();
    const cert = new X509Certificate(certificatePem);
    expect(identityOfCertificate(certificatePem)).toBe(key.identity);
    expect(cert.subject).toBe(`CN=${key.identity}`);
    expect(cert.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(cert.verify(key.publicKey)).toBe(true);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(isCACertificate(cert)).toBe(false);
    expect(cert.subjectAltName).toBeUndefined();
    const from = new Date(cert.validFrom).getTime();
    expect(from).toBeGreaterThanOrEqual(before);
    expect(new Date(cert.validTo).getTime() - from).toBe(90 * 86_400_000);
    expect(ApiKey.fromPrivateKey(privateKeyPem).toString()).toBe(key.toString());
    const legacy = cert.toLegacyObject() as unknown as { serialNumber: string };
    expect(legacy.serialNumber.length).toBeLessThanOrEqual(34);
  });

  it('honours validityDays and rejects invalid ones', () => {
    const key = ApiKey.generate();
    const cert = new X509Certificate(key.createCertificate({ validityDays: 1 }).certificatePem);
    expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(86_400_000);
    const e = thrown(() => key.createCertificate({ validityDays: -1 }));
    expect(isKesError(e, 'ERR_KES_INVALID_ARGUMENT')).toBe(true);
    expect((e as Error).message).toBe('validityDays must be a positive number');
  });

  it.each(vectors.api_key_identity.cases)('a certificate of $api_key has the vector identity', (c) => {
    const { certificatePem } = ApiKey.parse(c.api_key).createCertificate();
    expect(identityOfCertificate(certificatePem)).toBe(c.identity);
  });
});

/** Runs one mutual-TLS handshake and returns the identity the server computed. */
async function handshake(
  client: { cert: string; key: string },
  server: { cert: string; key: string; ca?: string; verify: boolean },
  version: SecureVersion,
): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const srv = createServer({
      cert: server.cert,
      key: server.key,
      requestCert: true,
      rejectUnauthorized: server.verify,
      ...(server.ca === undefined ? {} : { ca: server.ca }),
      minVersion: version,
      maxVersion: version,
    });
    srv.on('secureConnection', (socket: TLSSocket) => {
      try {
        resolve(identifyPeer(socket.getPeerX509Certificate()));
      } catch (e) {
        reject(e as Error);
      } finally {
        socket.end();
        srv.close();
      }
    });
    srv.on('tlsClientError', (e) => {
      srv.close();
      reject(e);
    });
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      const socket = connect({
        host: '127.0.0.1',
        port,
        cert: client.cert,
        key: client.key,
        ca: server.cert,
        minVersion: version,
        maxVersion: version,
      });
      socket.on('error', () => {
        /* the server side reports */
      });
      socket.on('close', () => socket.destroy());
    });
  });
}

describe('TLS handshake with an API-key client certificate', () => {
  const serverCert = createSelfSignedCertificate({ keyType: 'ecdsa-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const server = { cert: serverCert.certificatePem, key: serverCert.privateKeyPem };

  it.each(['TLSv1.2', 'TLSv1.3'] as const)('%s: Node accepts the Ed25519 certificate and the identity matches', async (version) => {
    const key = ApiKey.generate();
    const { certificatePem, privateKeyPem } = key.createCertificate();
    const identity = await handshake({ cert: certificatePem, key: privateKeyPem }, { ...server, verify: false }, version);
    expect(identity).toBe(key.identity);
  });

  it('verified mode: a CA-signed client certificate is accepted and identified', async () => {
    const ca = createSelfSignedCertificate({ commonName: 'client CA', isCA: true });
    const key = ApiKey.generate();
    const client = createSelfSignedCertificate({
      privateKey: key.privateKey,
      commonName: key.identity,
      extKeyUsage: ['clientAuth'],
      issuer: { certificatePem: ca.certificatePem, privateKey: createPrivateKey(ca.privateKeyPem) },
    });
    const identity = await handshake(
      { cert: client.certificatePem, key: client.privateKeyPem },
      { ...server, ca: ca.certificatePem, verify: true },
      'TLSv1.3',
    );
    expect(identity).toBe(key.identity);
  });
});
