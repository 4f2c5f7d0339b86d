/**
 * X.509 certificates for tests, `kes identity new` and API-key client certificates.
 *
 * node-forge can encode any ASN.1 but can only sign with RSA, so the TBSCertificate is
 * built with node-forge's DER layer and signed with `node:crypto.sign`, which handles
 * Ed25519, ECDSA and RSA (see docs/certificates.md).
 *
 * Length (~415 lines): one function and the DER building blocks only it uses (names,
 * SANs, extensions, signature algorithms); split, they would be internals with one caller.
 */
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { KesError } from './errors.js';
import { identityOfCertificate, identityOfPublicKey, isCACertificate } from './identity.js';
import { TAG_BIT_STRING, TAG_OCTET_STRING, TAG_SEQUENCE, certificateParts, children, findExtension, readRoot } from './internal/asn1-der.js';
import type { Asn1, Asn1Tag } from './internal/asn1-forge.js';
import { asn1, fromBinary, toBinary } from './internal/asn1-forge.js';
import { decodePemBlocks } from './internal/asn1-pem.js';

/** The key types a certificate can be generated with. */
export type CertificateKeyType = 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-3072';

/** Extended key usages a generated certificate can carry. */
export type CertificateExtKeyUsage = 'serverAuth' | 'clientAuth';

/** Options of {@link createSelfSignedCertificate}. */
export interface SelfSignedCertificateOptions {
  /** Type of the key to generate (ignored when `privateKey` is given). Default `'ed25519'`. */
  readonly keyType?: CertificateKeyType;
  /** Use this private key instead of generating one (Ed25519, ECDSA or RSA). */
  readonly privateKey?: KeyObject;
  /** Subject common name. Without it the subject is empty. */
  readonly commonName?: string;
  /** DNS subject alternative names. */
  readonly dnsNames?: readonly string[];
  /** IP subject alternative names, IPv4 or IPv6. */
  readonly ipAddresses?: readonly string[];
  /** Start of validity. Default: now (rounded down to the second). */
  readonly notBefore?: Date;
  /** Validity in days from `notBefore`. Default 30. Ignored when `notAfter` is given. */
  readonly validityDays?: number;
  /** End of validity; overrides `validityDays`. */
  readonly notAfter?: Date;
  /** Make a CA certificate (basicConstraints CA=true, keyCertSign). Default false. */
  readonly isCA?: boolean;
  /** Extended key usages. Default both; an empty list omits the extension. */
  readonly extKeyUsage?: readonly CertificateExtKeyUsage[];
  /** Sign with this CA instead of self-signing. */
  readonly issuer?: { readonly certificatePem: string; readonly privateKey: KeyObject };
}

/** The result of {@link createSelfSignedCertificate}. */
export interface SelfSignedCertificate {
  /** The certificate as PEM. */
  readonly certificatePem: string;
  /** The certificate's private key as PKCS#8 PEM. Secret. */
  readonly privateKeyPem: string;
  /** The KES identity of the certificate (hex SHA-256 of its SubjectPublicKeyInfo). */
  readonly identity: string;
  /** The parsed certificate. */
  readonly certificate: X509Certificate;
}

const OID = {
  commonName: '2.5.4.3',
  ed25519: '1.3.101.112',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** KeyUsage bit numbers (RFC 5280 §4.2.1.3). */
const KU = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

const DAY_MS = 86_400_000;

interface SignatureScheme {
  readonly oid: string;
  /** RSA algorithm identifiers carry an explicit NULL parameter; ECDSA and Ed25519 none. */
  readonly nullParams: boolean;
  /** Digest for `crypto.sign`; null for Ed25519 (the algorithm hashes internally). */
  readonly digest: string | null;
}

function generateKey(keyType: CertificateKeyType): KeyObject {
  switch (keyType) {
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    default:
      throw new KesError('ERR_KES_INVALID_ARGUMENT', [`keyType '${String(keyType)}' is not supported`]);
  }
}

/** The signature scheme for a signing key, or undefined for an unsupported key. */
function signatureScheme(key: KeyObject): SignatureScheme | undefined {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return { oid: OID.ed25519, nullParams: false, digest: null };
    case 'rsa':
      return { oid: OID.sha256WithRsa, nullParams: true, digest: 'sha256' };
    case 'ec':
      switch (key.asymmetricKeyDetails?.namedCurve) {
        case 'prime256v1':
          return { oid: OID.ecdsaWithSha256, nullParams: false, digest: 'sha256' };
        case 'secp384r1':
          return { oid: OID.ecdsaWithSha384, nullParams: false, digest: 'sha384' };
        case 'secp521r1':
          return { oid: OID.ecdsaWithSha512, nullParams: false, digest: 'sha512' };
        default:
          return undefined;
      }
    default:
      return undefined;
  }
}

/** RFC 5280 time: UTCTime for 1950–2049, GeneralizedTime otherwise. */
function encodeTime(date: Date): Asn1 {
  const a = asn1();
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? a.create(a.Class.UNIVERSAL, a.Type.UTCTIME, false, a.dateToUtcTime(date))
    : a.create(a.Class.UNIVERSAL, a.Type.GENERALIZEDTIME, false, a.dateToGeneralizedTime(date));
}

/** IPv4 or IPv6 text as network-order bytes (4 or 16), or undefined if invalid. */
function ipBytes(ip: string): Buffer | undefined {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip) || ip.includes('%')) return undefined;
  let text = ip;
  const tail: number[] = [];
  // An embedded IPv4 suffix (`::ffff:10.0.0.1`) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const suffix = text.slice(lastColon + 1);
  if (isIPv4(suffix)) {
    tail.push(...suffix.split('.').map(Number));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  const all = [...left, ...Array<string>(zeros).fill('0'), ...right];
  if (all.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** The content of a DER BIT STRING holding the given named bits, with minimal length. */
function namedBits(bits: readonly number[]): string {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  const unused = 7 - (highest & 7);
  return String.fromCharCode(unused) + toBinary(bytes);
}

/** An unsigned big-endian integer as minimal DER INTEGER content. */
function unsignedInteger(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return ((trimmed[0] ?? 0) & 0x80 ? '\x00' : '') + toBinary(trimmed);
}

function extension(oid: string, critical: boolean, value: Asn1): Asn1 {
  const a = asn1();
  const fields: Asn1[] = [a.create(a.Class.UNIVERSAL, a.Type.OID, false, a.oidToDer(oid).getBytes())];
  if (critical) fields.push(a.create(a.Class.UNIVERSAL, a.Type.BOOLEAN, false, '\xff'));
  fields.push(a.create(a.Class.UNIVERSAL, a.Type.OCTETSTRING, false, a.toDer(value).getBytes()));
  return a.create(a.Class.UNIVERSAL, a.Type.SEQUENCE, true, fields);
}

function algorithmIdentifier(scheme: SignatureScheme): Asn1 {
  const a = asn1();
  const fields: Asn1[] = [a.create(a.Class.UNIVERSAL, a.Type.OID, false, a.oidToDer(scheme.oid).getBytes())];
  if (scheme.nullParams) fields.push(a.create(a.Class.UNIVERSAL, a.Type.NULL, false, ''));
  return a.create(a.Class.UNIVERSAL, a.Type.SEQUENCE, true, fields);
}

/**
 * The SubjectPublicKeyInfo as a forge object that re-encodes to exactly the bytes
 * node:crypto exported: the algorithm identifier is parsed (it holds only OIDs and
 * NULL), the key bits are carried as an opaque primitive BIT STRING.
 */
function subjectPublicKeyInfo(spkiDer: Buffer): { node: Asn1; keyBits: Buffer } {
  const a = asn1();
  const root = readRoot(spkiDer, TAG_SEQUENCE);
  const [alg, bits] = children(spkiDer, root);
  if (alg === undefined || bits === undefined || bits.tag !== TAG_BIT_STRING) {
    throw new KesError('ERR_KES_INTERNAL');
  }
  const algNode = a.fromDer(toBinary(spkiDer.subarray(alg.start, alg.end)));
  const content = spkiDer.subarray(bits.contentStart, bits.end);
  const node = a.create(a.Class.UNIVERSAL, a.Type.SEQUENCE, true, [algNode, a.create(a.Class.UNIVERSAL, a.Type.BITSTRING, false, toBinary(content))]);
  return { node, keyBits: content.subarray(1) };
}

function toPem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

interface IssuerInfo {
  readonly name: Asn1;
  readonly key: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId: Buffer | undefined;
}

function loadIssuer(issuer: NonNullable<SelfSignedCertificateOptions['issuer']>, problems: string[]): IssuerInfo | undefined {
  const block = decodePemBlocks(issuer.certificatePem).find((b) => b.type === 'CERTIFICATE');
  if (block?.bytes === undefined) {
    problems.push('issuer.certificatePem is not a PEM certificate');
    return undefined;
  }
  const der = block.bytes;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    problems.push('issuer.certificatePem is not a parsable certificate');
    return undefined;
  }
  if (!isCACertificate(der)) problems.push('issuer certificate is not a CA (basicConstraints CA=true)');
  if (issuer.privateKey.type !== 'private') {
    problems.push('issuer.privateKey must be a private key');
    return undefined;
  }
  if (identityOfPublicKey(issuer.privateKey) !== identityOfCertificate(der)) {
    problems.push('issuer.privateKey does not belong to the issuer certificate');
  }
  const a = asn1();
  const parts = certificateParts(der);
  // The issuer's subject is copied byte for byte so name chaining cannot be broken by re-encoding.
  const name = a.fromDer(toBinary(der.subarray(parts.subject.start, parts.subject.end)));
  let keyId: Buffer | undefined;
  const ski = findExtension(der, parts, OID.subjectKeyIdentifier);
  if (ski !== undefined) {
    const el = readRoot(ski, TAG_OCTET_STRING);
    keyId = Buffer.from(ski.subarray(el.contentStart, el.end));
  }
  return { name, key: issuer.privateKey, publicKey: cert.publicKey, keyId };
}

/**
 * Creates an X.509 v3 certificate — self-signed, or signed by `options.issuer` —
 * with a fresh or given key. Synchronous; RSA key generation can take a moment.
 *
 * Leaf certificates carry KeyUsage digitalSignature (plus keyEncipherment for RSA),
 * basicConstraints CA=false and the requested EKUs; CA certificates carry keyCertSign
 * and cRLSign and CA=true. Every certificate carries a SubjectKeyIdentifier; a
 * certificate signed by an issuer that has one also carries an AuthorityKeyIdentifier.
 * The serial is a random positive 128-bit number.
 *
 * @throws KesError `ERR_KES_INVALID_ARGUMENT` naming every invalid option (message lists all problems)
 * @example
 * const ca = createSelfSignedCertificate({ commonName: 'test CA', isCA: true });
 * const leaf = createSelfSignedCertificate({
 *   dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'],
 *   issuer: { certificatePem: ca.certificatePem, privateKey: createPrivateKey(ca.privateKeyPem) },
 * });
 */
export function createSelfSignedCertificate(options: SelfSignedCertificateOptions = {}): SelfSignedCertificate {
  const a = asn1();
  const problems: string[] = [];

  const { privateKey: givenKey, keyType = 'ed25519', isCA = false } = options;
  if (givenKey !== undefined && (givenKey.type !== 'private' || signatureScheme(givenKey) === undefined)) {
    problems.push('privateKey must be an Ed25519, ECDSA (P-256/P-384/P-521) or RSA private key');
  }
  const notBefore = new Date(Math.floor((options.notBefore ?? new Date()).getTime() / 1000) * 1000);
  if (Number.isNaN(notBefore.getTime())) problems.push('notBefore is not a valid date');
  const validityDays = options.validityDays ?? 30;
  if (options.notAfter === undefined && !(Number.isFinite(validityDays) && validityDays > 0)) {
    problems.push('validityDays must be a positive number');
  }
  const notAfter = new Date(Math.floor((options.notAfter?.getTime() ?? notBefore.getTime() + validityDays * DAY_MS) / 1000) * 1000);
  if (Number.isNaN(notAfter.getTime()) || notAfter.getTime() <= notBefore.getTime()) {
    problems.push('notAfter must be a valid date after notBefore');
  } else if (notAfter.getUTCFullYear() > 9999) {
    problems.push('notAfter must be before the year 10000');
  }
  const dnsNames = options.dnsNames ?? [];
  dnsNames.forEach((d, i) => {
    // dNSName is an IA5String: printable ASCII only.
    if (d.length === 0 || !/^[\x21-\x7e]+$/.test(d)) problems.push(`dnsNames[${i}] is not a valid DNS name`);
  });
  const ips = (options.ipAddresses ?? []).map((ip, i) => {
    const bytes = ipBytes(ip);
    if (bytes === undefined) problems.push(`ipAddresses[${i}] is not a valid IPv4 or IPv6 address`);
    return bytes;
  });
  const eku = options.extKeyUsage ?? ['serverAuth', 'clientAuth'];
  eku.forEach((u, i) => {
    if (u !== 'serverAuth' && u !== 'clientAuth') problems.push(`extKeyUsage[${i}] must be 'serverAuth' or 'clientAuth'`);
  });
  const issuer = options.issuer === undefined ? undefined : loadIssuer(options.issuer, problems);
  if (problems.length > 0) throw new KesError('ERR_KES_INVALID_ARGUMENT', [`invalid certificate options: ${problems.join('; ')}`]);

  const privateKey = givenKey ?? generateKey(keyType);
  const publicKey = createPublicKey(privateKey);
  const signer = issuer?.key ?? privateKey;
  const scheme = signatureScheme(signer);
  if (scheme === undefined) throw new KesError('ERR_KES_INVALID_ARGUMENT', ['the signing key type is not supported']);

  const seq = (fields: Asn1[]): Asn1 => a.create(a.Class.UNIVERSAL, a.Type.SEQUENCE, true, fields);
  const ctx = (n: number, inner: Asn1[]): Asn1 => a.create(a.Class.CONTEXT_SPECIFIC, n as Asn1Tag, true, inner);

  const subject =
    options.commonName === undefined
      ? seq([])
      : seq([
          a.create(a.Class.UNIVERSAL, a.Type.SET, true, [
            seq([
              a.create(a.Class.UNIVERSAL, a.Type.OID, false, a.oidToDer(OID.commonName).getBytes()),
              a.create(a.Class.UNIVERSAL, a.Type.UTF8, false, Buffer.from(options.commonName, 'utf8').toString('latin1')),
            ]),
          ]),
        ]);

  const spki = subjectPublicKeyInfo(publicKey.export({ type: 'spki', format: 'der' }));

  const extensions: Asn1[] = [];
  const usage: number[] = [KU.digitalSignature];
  if (isCA) usage.push(KU.keyCertSign, KU.cRLSign);
  else if (publicKey.asymmetricKeyType === 'rsa') usage.push(KU.keyEncipherment);
  extensions.push(extension(OID.keyUsage, true, a.create(a.Class.UNIVERSAL, a.Type.BITSTRING, false, namedBits(usage))));
  if (eku.length > 0) {
    extensions.push(
      extension(OID.extKeyUsage, false, seq(eku.map((u) => a.create(a.Class.UNIVERSAL, a.Type.OID, false, a.oidToDer(OID[u]).getBytes())))),
    );
  }
  // cA BOOLEAN DEFAULT FALSE: DER omits a false value, giving an empty SEQUENCE.
  extensions.push(extension(OID.basicConstraints, true, seq(isCA ? [a.create(a.Class.UNIVERSAL, a.Type.BOOLEAN, false, '\xff')] : [])));
  // Key identifier method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey bits.
  const keyId = createHash('sha1').update(spki.keyBits).digest();
  extensions.push(extension(OID.subjectKeyIdentifier, false, a.create(a.Class.UNIVERSAL, a.Type.OCTETSTRING, false, toBinary(keyId))));
  if (issuer?.keyId !== undefined) {
    extensions.push(
      extension(OID.authorityKeyIdentifier, false, seq([a.create(a.Class.CONTEXT_SPECIFIC, 0 as Asn1Tag, false, toBinary(issuer.keyId))])),
    );
  }
  if (dnsNames.length > 0 || ips.length > 0) {
    const names: Asn1[] = [
      ...dnsNames.map((d) => a.create(a.Class.CONTEXT_SPECIFIC, 2 as Asn1Tag, false, d)),
      ...ips.map((ip) => a.create(a.Class.CONTEXT_SPECIFIC, 7 as Asn1Tag, false, toBinary(ip!))),
    ];
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
    extensions.push(extension(OID.subjectAltName, options.commonName === undefined, seq(names)));
  }

  const tbs = seq([
    ctx(0, [a.create(a.Class.UNIVERSAL, a.Type.INTEGER, false, '\x02')]), // v3
    a.create(a.Class.UNIVERSAL, a.Type.INTEGER, false, unsignedInteger(serialNumber())),
    algorithmIdentifier(scheme),
    issuer?.name ?? subject,
    seq([encodeTime(notBefore), encodeTime(notAfter)]),
    subject,
    spki.node,
    ctx(3, [seq(extensions)]),
  ]);
  const tbsDer = fromBinary(a.toDer(tbs).getBytes());
  const signature = sign(scheme.digest, tbsDer, signer);
  const certificateDer = fromBinary(
    a
      .toDer(
        seq([
          tbs, // re-serialising the same object is deterministic: the signed bytes are kept
          algorithmIdentifier(scheme),
          a.create(a.Class.UNIVERSAL, a.Type.BITSTRING, false, `\x00${toBinary(signature)}`),
        ]),
      )
      .getBytes(),
  );

  const certificate = new X509Certificate(certificateDer);
  // Self-check: a certificate we cannot verify ourselves must never be handed out.
  if (!certificate.verify(issuer?.publicKey ?? publicKey)) throw new KesError('ERR_KES_INTERNAL');
  const identity = identityOfCertificate(certificateDer);
  if (identity !== identityOfPublicKey(publicKey)) throw new KesError('ERR_KES_INTERNAL');

  return {
    certificatePem: toPem('CERTIFICATE', certificateDer),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    identity,
    certificate,
  };
}

/** A random positive serial of up to 128 bits (never zero). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  if (bytes.every((b) => b === 0)) bytes[15] = 1;
  return bytes;
}
