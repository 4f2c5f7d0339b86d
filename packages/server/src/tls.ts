// Server-side TLS material: reading the server certificate, private key and client CAs
// (inline PEM or files), validating them the way upstream KES does at startup, and
// turning them into `tls.createSecureContext()` options. Used by server.ts at start,
// on reload() and by the periodic certificate reload.
import { X509Certificate, constants, createPrivateKey } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { KesError } from '@kes/core';
import type { TlsOptions } from './options.js';

/** Client-certificate mode of the TLS handshake (spec §5.4). */
export type ClientAuthMode =
  /** `tls.auth: off`: a certificate is required, any certificate (no chain validation). */
  | 'require-any'
  /** `tls.auth: on`: a certificate is required and must chain to the configured CAs. */
  | 'require-and-verify'
  /** `off` + some route has `skip_auth`: a certificate is requested but optional. */
  | 'request'
  /** `on` + some route has `skip_auth`: optional, but verified when given. */
  | 'verify-if-given';

/** Validated TLS material, ready for `createServer()` / `setSecureContext()`. */
export interface TlsMaterial {
  /** Options for `tls.createSecureContext()` (cert chain, key, passphrase, client CAs, TLS ≥ 1.2). */
  readonly secureContext: SecureContextOptions;
  /** The server's leaf certificate (for logs and tests: fingerprint, SANs, expiry). */
  readonly leaf: X509Certificate;
  /** `tls.auth`, normalised. */
  readonly auth: 'on' | 'off';
}

/**
 * TLS 1.2 suites: ECDHE only (forward secrecy) with an AEAD (AES-GCM, ChaCha20-Poly1305).
 * Threat: Node's default list still offers CBC/SHA-1 suites (ECDHE-ECDSA-AES128-SHA, …) and,
 * with RSA certificates, static-RSA key exchange. TLS 1.3 keeps its three standard suites.
 * Go clients (MinIO) offer all of these, so nothing a KES client uses is lost.
 */
export const TLS_CIPHERS: string = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * OpenSSL options: no renegotiation at all (threat: client-initiated renegotiation is a
 * CPU-exhaustion lever and has no use for KES clients), and the server's suite order wins.
 */
const TLS_SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;
const PRIVATE_KEY_TYPES = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

function pemBlocks(text: string): { type: string; pem: string }[] {
  const out: { type: string; pem: string }[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) out.push({ type: m[1] ?? '', pem: m[0] });
  return out;
}

function invalid(why: string, cause?: unknown): KesError {
  return new KesError('ERR_KES_INVALID_ARGUMENT', [`tls: ${why}`], cause === undefined ? undefined : { cause });
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    // The path is configuration, not a secret; the OS error goes to `cause`.
    throw invalid(`failed to read ${what} file '${path}'`, cause);
  }
}

function asText(value: string | Buffer): string {
  return typeof value === 'string' ? value : value.toString('utf8');
}

/** Reads the certificate PEM: every block must be a CERTIFICATE, leaf first. */
function parseCertificateChain(text: string): { pem: string; leaf: X509Certificate } {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) throw new KesError('ERR_KES_INVALID_CERTIFICATE', ['no certificate found in the server certificate PEM']);
  for (const b of blocks) {
    if (b.type !== 'CERTIFICATE') {
      throw new KesError('ERR_KES_INVALID_CERTIFICATE', [`unexpected PEM block '${b.type}' in the server certificate`]);
    }
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!.pem);
  } catch (cause) {
    throw new KesError('ERR_KES_INVALID_CERTIFICATE', ['failed to parse the server certificate'], { cause });
  }
  // Upstream refuses to start without a DNS or IP SAN: clients (Go ≥ 1.15) ignore the CN.
  const san = leaf.subjectAltName ?? '';
  if (!/(^|,\s*)(DNS|IP Address):/.test(san)) {
    throw new KesError('ERR_KES_INVALID_CERTIFICATE', ['the server certificate must contain at least one DNS or IP subject alternative name']);
  }
  return { pem: blocks.map((b) => b.pem).join('\n') + '\n', leaf };
}

/** Extracts the one private-key block; CERTIFICATE blocks are ignored, anything else is an error. */
function parsePrivateKeyBlock(text: string): string {
  const blocks = pemBlocks(text);
  const keys = blocks.filter((b) => PRIVATE_KEY_TYPES.has(b.type));
  for (const b of blocks) {
    if (b.type !== 'CERTIFICATE' && !PRIVATE_KEY_TYPES.has(b.type)) throw invalid(`unexpected PEM block '${b.type}' in private key file`);
  }
  if (keys.length !== 1) throw invalid(keys.length === 0 ? 'no private key found' : 'more than one private key found');
  return keys[0]!.pem;
}

async function readCaPems(tls: TlsOptions): Promise<string[]> {
  const out: string[] = [];
  const ca = tls.ca;
  if (ca !== undefined) for (const c of Array.isArray(ca) ? (ca as readonly (string | Buffer)[]) : [ca as string | Buffer]) out.push(asText(c));
  if (tls.caFile !== undefined) {
    let isDir = false;
    try {
      isDir = (await stat(tls.caFile)).isDirectory();
    } catch (cause) {
      throw invalid(`failed to read CA file '${tls.caFile}'`, cause);
    }
    if (isDir) {
      // Upstream: a directory is scanned non-recursively, every regular file must be PEM certificates.
      for (const entry of (await readdir(tls.caFile, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (entry.isFile()) out.push(await readText(join(tls.caFile, entry.name), 'CA'));
      }
    } else {
      out.push(await readText(tls.caFile, 'CA'));
    }
  }
  const certs: string[] = [];
  for (const text of out) {
    const blocks = pemBlocks(text);
    if (blocks.length === 0 || blocks.some((b) => b.type !== 'CERTIFICATE')) throw invalid('CA file must contain only PEM CERTIFICATE blocks');
    for (const b of blocks) {
      try {
        new X509Certificate(b.pem);
      } catch (cause) {
        throw invalid('failed to parse a CA certificate', cause);
      }
      certs.push(b.pem);
    }
  }
  return certs;
}

/**
 * Reads and validates the server's TLS material from `options` (inline PEM or files;
 * files are read again on every call, which is how certificate reloads work).
 *
 * The context allows TLS 1.2 and 1.3 only, {@link TLS_CIPHERS} only, and no renegotiation.
 *
 * Checks: the certificate parses and has at least one DNS or IP SAN, the private key
 * (optionally encrypted — PKCS#8 or legacy `Proc-Type: 4,ENCRYPTED` — with `password`)
 * decrypts and matches the certificate, CA files hold only certificates, `auth` is
 * `on`/`off`.
 *
 * @throws KesError `ERR_KES_INVALID_CERTIFICATE` (server certificate unusable),
 *   `ERR_KES_INVALID_ARGUMENT` (missing/unreadable files, key problems, bad CA, bad `auth`).
 *   Messages never contain key bytes or the password.
 * @example
 * const material = await loadTlsMaterial({ certFile: 'server.crt', keyFile: 'server.key' });
 */
export async function loadTlsMaterial(options: TlsOptions | undefined): Promise<TlsMaterial> {
  const tls = options ?? {};
  const auth = normaliseAuth(tls.auth);
  const certText = tls.cert !== undefined ? asText(tls.cert) : tls.certFile !== undefined ? await readText(tls.certFile, 'certificate') : undefined;
  const keyText = tls.key !== undefined ? asText(tls.key) : tls.keyFile !== undefined ? await readText(tls.keyFile, 'private key') : undefined;
  if (certText === undefined) throw invalid('no server certificate configured (cert or certFile)');
  if (keyText === undefined) throw invalid('no server private key configured (key or keyFile)');

  const { pem: certPem, leaf } = parseCertificateChain(certText);
  const keyPem = parsePrivateKeyBlock(keyText);
  const encrypted = /ENCRYPTED/.test(keyPem);
  if (encrypted && !tls.password) throw invalid('private key is encrypted but no password is configured');
  let privateKey;
  try {
    privateKey = createPrivateKey(encrypted ? { key: keyPem, format: 'pem', passphrase: tls.password } : { key: keyPem, format: 'pem' });
  } catch (cause) {
    // Do not attach the OpenSSL error as it is: it is harmless, but keep the message generic.
    throw invalid(encrypted ? 'failed to decrypt private key (wrong password?)' : 'failed to parse private key', cause);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw invalid('private key does not match the server certificate');

  const ca = await readCaPems(tls);
  const secureContext: SecureContextOptions = {
    cert: certPem,
    key: keyPem,
    ...(encrypted ? { passphrase: tls.password } : {}),
    // With `auth: on` and no CA configured, Node falls back to its root store, as Go does.
    ...(ca.length > 0 ? { ca } : {}),
    minVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS,
    secureOptions: TLS_SECURE_OPTIONS,
  };
  return { secureContext, leaf, auth };
}

function normaliseAuth(value: string | undefined): 'on' | 'off' {
  const v = (value ?? '').toLowerCase();
  if (v === '' || v === 'off') return 'off';
  if (v === 'on') return 'on';
  throw invalid(`invalid auth mode '${value}': must be 'on' or 'off'`);
}

/**
 * The handshake mode for a given `tls.auth` and whether any route has `skip_auth`
 * (spec §5.4: `skip_auth` anywhere downgrades "require" to "request"). Never throws.
 * @example
 * clientAuthMode('off', false); // 'require-any'
 * clientAuthMode('on', true);   // 'verify-if-given'
 */
export function clientAuthMode(auth: 'on' | 'off', allowsAnonymousHandshake: boolean): ClientAuthMode {
  if (auth === 'on') return allowsAnonymousHandshake ? 'verify-if-given' : 'require-and-verify';
  return allowsAnonymousHandshake ? 'request' : 'require-any';
}
