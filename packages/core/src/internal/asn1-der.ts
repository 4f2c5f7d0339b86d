/**
 * A minimal DER reader: just enough to slice fields out of an X.509 certificate
 * without re-encoding them (the identity is a hash of the exact bytes on the wire).
 * Not exported from the package.
 */

/** One tag-length-value element inside `buf`. */
export interface DerElement {
  /** The identifier octet (class, constructed bit and tag number; low-tag form only). */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
}

/** Thrown by the reader on malformed input; callers map it to a catalogued error. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG_BOOLEAN = 0x01;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;

/** Reads the element that starts at `offset` and must end no later than `limit`. */
function readElement(buf: Uint8Array, offset: number, limit: number = buf.length): DerElement {
  if (offset + 2 > limit) throw new DerError('truncated element header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    // DER forbids the indefinite form (n = 0); 4 length bytes are far beyond any certificate.
    if (n === 0 || n > 4) throw new DerError('unsupported length encoding');
    if (pos + n > limit) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > limit) throw new DerError('element exceeds its container');
  return { tag, start: offset, contentStart: pos, end };
}

/** The direct children of a constructed element. */
export function children(buf: Uint8Array, parent: DerElement): DerElement[] {
  const out: DerElement[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const el = readElement(buf, pos, parent.end);
    out.push(el);
    pos = el.end;
  }
  return out;
}

/** Reads the single top-level element of `buf`, requiring that nothing follows it. */
export function readRoot(buf: Uint8Array, expectedTag: number): DerElement {
  const root = readElement(buf, 0);
  if (root.tag !== expectedTag) throw new DerError('unexpected top-level tag');
  if (root.end !== buf.length) throw new DerError('trailing data after the top-level element');
  return root;
}

/** The fields of a certificate this package needs, each as a raw element. */
export interface CertificateParts {
  readonly tbs: DerElement;
  readonly issuer: DerElement;
  readonly subject: DerElement;
  readonly subjectPublicKeyInfo: DerElement;
  /** The `[3]` extensions wrapper of the TBSCertificate, if present. */
  readonly extensions: DerElement | undefined;
}

/**
 * Locates the TBSCertificate fields of a DER X.509 certificate:
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } and
 * TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
 * validity, subject, subjectPublicKeyInfo, [1] [2] unique IDs OPTIONAL, [3] extensions OPTIONAL }.
 */
export function certificateParts(der: Uint8Array): CertificateParts {
  const cert = readRoot(der, TAG_SEQUENCE);
  const top = children(der, cert);
  if (top.length !== 3) throw new DerError('a certificate has three top-level fields');
  const tbs = top[0]!;
  if (tbs.tag !== TAG_SEQUENCE) throw new DerError('tbsCertificate is not a SEQUENCE');
  const fields = children(der, tbs);
  // Skip the optional explicit version tag.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const issuer = fields[base + 2];
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (issuer === undefined || subject === undefined || spki === undefined) {
    throw new DerError('tbsCertificate is missing fields');
  }
  if (issuer.tag !== TAG_SEQUENCE || subject.tag !== TAG_SEQUENCE || spki.tag !== TAG_SEQUENCE) {
    throw new DerError('unexpected tbsCertificate field');
  }
  const extensions = fields.slice(base + 6).find((f) => f.tag === 0xa3);
  return { tbs, issuer, subject, subjectPublicKeyInfo: spki, extensions };
}

/** Decodes the content octets of an OBJECT IDENTIFIER into dotted form. */
function decodeOid(buf: Uint8Array, el: DerElement): string {
  if (el.tag !== TAG_OID) throw new DerError('not an OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = el.contentStart; i < el.end; i++) {
    const b = buf[i]!;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

/**
 * The content octets of the extension `oid` (its extnValue OCTET STRING content), or
 * undefined when the certificate does not carry it.
 */
export function findExtension(der: Uint8Array, parts: CertificateParts, oid: string): Uint8Array | undefined {
  if (parts.extensions === undefined) return undefined;
  const [list] = children(der, parts.extensions);
  if (list === undefined || list.tag !== TAG_SEQUENCE) throw new DerError('malformed extensions');
  for (const ext of children(der, list)) {
    const f = children(der, ext);
    const id = f[0];
    const value = f[f.length - 1];
    if (id === undefined || value === undefined || value.tag !== TAG_OCTET_STRING) {
      throw new DerError('malformed extension');
    }
    if (decodeOid(der, id) === oid) return der.subarray(value.contentStart, value.end);
  }
  return undefined;
}
