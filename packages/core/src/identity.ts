/**
 * Client identities (kes-protocol.md §5.1, §5.5): the lowercase hex SHA-256 of a
 * certificate's DER SubjectPublicKeyInfo, how a server picks the one client
 * certificate to identify, and the forwarded-certificate header of TLS proxies.
 */
import { X509Certificate, createHash, createPublicKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { KesError } from './errors.js';
import { DerError, TAG_BOOLEAN, TAG_SEQUENCE, certificateParts, children, findExtension, readRoot } from './internal/asn1-der.js';
import { decodePemBlocks, queryUnescape } from './internal/asn1-pem.js';

const OID_BASIC_CONSTRAINTS = '2.5.29.19';

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The DER bytes of a certificate given as PEM text, DER bytes or an X509Certificate. */
function certificateDer(cert: string | Uint8Array | X509Certificate): Uint8Array {
  if (cert instanceof X509Certificate) return cert.raw;
  if (typeof cert !== 'string') return cert;
  const block = decodePemBlocks(cert).find((b) => b.type === 'CERTIFICATE');
  if (block === undefined) throw new KesError('ERR_KES_INVALID_CERTIFICATE', ['no PEM CERTIFICATE block']);
  if (block.bytes === undefined) throw new KesError('ERR_KES_INVALID_CERTIFICATE', ['malformed PEM block']);
  return block.bytes;
}

/**
 * The identity of a certificate: lowercase hex SHA-256 over the raw DER
 * SubjectPublicKeyInfo exactly as it appears inside the certificate (not
 * re-encoded, not the whole certificate). Works for every key type.
 *
 * A PEM string may hold several blocks; the first `CERTIFICATE` block is used.
 *
 * @throws KesError `ERR_KES_INVALID_CERTIFICATE` if the input is not a parsable certificate
 * @example
 * const id = identityOfCertificate(readFileSync('client.crt', 'utf8'));
 */
export function identityOfCertificate(cert: string | Uint8Array | X509Certificate): string {
  const der = certificateDer(cert);
  try {
    const { subjectPublicKeyInfo: spki } = certificateParts(der);
    return sha256Hex(der.subarray(spki.start, spki.end));
  } catch (e) {
    if (e instanceof DerError) throw new KesError('ERR_KES_INVALID_CERTIFICATE', ['malformed DER'], { cause: e });
    throw e;
  }
}

/**
 * The identity of a public key: lowercase hex SHA-256 of its DER SubjectPublicKeyInfo.
 * A private key is reduced to its public half first.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` for a symmetric (secret) KeyObject
 * @example
 * identityOfPublicKey(cert.publicKey) === identityOfCertificate(cert); // true
 */
export function identityOfPublicKey(key: KeyObject): string {
  if (key.type === 'secret') throw new KesError('ERR_KES_INVALID_ARGUMENT', ['key must be an asymmetric key']);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(pub.export({ type: 'spki', format: 'der' }));
}

/**
 * True if the certificate carries basicConstraints with CA=true — the same test Go's
 * `x509.Certificate.IsCA` makes. Node's `X509Certificate.ca` is not used because
 * OpenSSL additionally consults keyUsage, which would make the two disagree.
 *
 * @throws KesError `ERR_KES_INVALID_CERTIFICATE` for malformed DER
 * @example
 * isCACertificate(new X509Certificate(pem));
 */
export function isCACertificate(cert: X509Certificate | Uint8Array): boolean {
  const der = cert instanceof X509Certificate ? cert.raw : cert;
  try {
    const value = findExtension(der, certificateParts(der), OID_BASIC_CONSTRAINTS);
    if (value === undefined) return false;
    const seq = readRoot(value, TAG_SEQUENCE);
    const first = children(value, seq)[0];
    // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
    if (first === undefined || first.tag !== TAG_BOOLEAN) return false;
    return first.end - first.contentStart === 1 && value[first.contentStart] !== 0;
  } catch (e) {
    if (e instanceof DerError) throw new KesError('ERR_KES_INVALID_CERTIFICATE', ['malformed DER'], { cause: e });
    throw e;
  }
}

/**
 * The identity of a TLS peer (§5.1): the hash of the certificate its handshake
 * authenticated, and of nothing else.
 *
 * `leaf` MUST be the certificate whose private key the peer proved it holds, i.e. the
 * first certificate of its TLS Certificate message (`socket.getPeerX509Certificate()`).
 * `chain` is whatever else it sent; no signature on it was checked (with `tls.auth: off`
 * nothing is), so it is chain material only and never an identity.
 *
 * Threat: a client that appends a forged certificate carrying the admin's public key
 * (and naming its own leaf's issuer) must not become the admin. Upstream KES drops CA
 * certificates from the presented list and identifies the one that remains, which is
 * exactly that forgery; here a `CA:TRUE` leaf is refused outright instead of skipped.
 * A second non-CA certificate in the chain is refused as upstream does.
 *
 * @throws KesError `ERR_KES_CLIENT_CERT_REQUIRED` if there is no leaf or the leaf is a CA certificate
 * @throws KesError `ERR_KES_TOO_MANY_CLIENT_CERTS` if the chain holds another non-CA certificate
 * @example
 * const identity = identifyPeer(socket.getPeerX509Certificate());
 */
export function identifyPeer(leaf: X509Certificate | undefined, chain: readonly X509Certificate[] = []): string {
  if (leaf === undefined || isCACertificate(leaf)) throw new KesError('ERR_KES_CLIENT_CERT_REQUIRED');
  for (const cert of chain) {
    if (!isCACertificate(cert)) throw new KesError('ERR_KES_TOO_MANY_CLIENT_CERTS');
  }
  return identityOfCertificate(leaf);
}

/**
 * Compares two identities in constant time (for equal byte lengths), so that an
 * attacker probing the admin identity learns nothing from response timing.
 *
 * @example
 * identitiesEqual(identity, admin);
 */
export function identitiesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/**
 * Decodes the certificate a TLS-terminating proxy forwards in a header (§5.5): the
 * URL-query-escaped PEM of exactly one certificate (`+` is a space, `%0A` a newline).
 *
 * Pass the raw header value (a string), or all values of the header (an array, e.g.
 * from `req.headersDistinct`). Node joins repeated unknown headers with `, `, so a
 * string holding several certificates is reported as too many as well. An absent or
 * empty value means no certificate.
 *
 * @throws KesError `ERR_KES_PROXY_NO_CERT` if the header is absent or empty
 * @throws KesError `ERR_KES_PROXY_TOO_MANY_CERTS` if more than one certificate was forwarded
 * @throws KesError `ERR_KES_PROXY_INVALID_CERT` if the value cannot be unescaped, has no
 *   PEM `CERTIFICATE` block, does not parse as X.509, or is a CA certificate (`CA:TRUE`
 *   is never a client identity, as for direct clients: see {@link identifyPeer})
 * @example
 * const cert = parseForwardedCertificate(req.headers['x-tls-client-cert']);
 * const identity = identityOfCertificate(cert);
 */
export function parseForwardedCertificate(headerValue: string | readonly string[] | undefined): X509Certificate {
  let value: string;
  if (headerValue === undefined) throw new KesError('ERR_KES_PROXY_NO_CERT');
  if (typeof headerValue === 'string') {
    value = headerValue;
  } else {
    if (headerValue.length === 0) throw new KesError('ERR_KES_PROXY_NO_CERT');
    if (headerValue.length > 1) throw new KesError('ERR_KES_PROXY_TOO_MANY_CERTS');
    value = headerValue[0]!;
  }
  if (value === '') throw new KesError('ERR_KES_PROXY_NO_CERT');

  const unescaped = queryUnescape(value);
  if (unescaped === undefined) throw new KesError('ERR_KES_PROXY_INVALID_CERT');
  const blocks = decodePemBlocks(unescaped.toString('latin1'));
  const first = blocks[0];
  if (first === undefined || first.type !== 'CERTIFICATE' || first.bytes === undefined) {
    throw new KesError('ERR_KES_PROXY_INVALID_CERT');
  }
  if (blocks.filter((b) => b.type === 'CERTIFICATE').length > 1) throw new KesError('ERR_KES_PROXY_TOO_MANY_CERTS');
  try {
    const cert = new X509Certificate(first.bytes);
    // Make sure our own DER walker can read it too, so identityOfCertificate cannot fail later.
    certificateParts(cert.raw);
    if (isCACertificate(cert)) throw new Error('a CA certificate is not a client certificate');
    return cert;
  } catch (e) {
    throw new KesError('ERR_KES_PROXY_INVALID_CERT', [], { cause: e });
  }
}
