/**
 * KES API keys (kes-protocol.md §5.3): `kes:v1:` + standard base64 of `0x00 ‖ seed`,
 * where the seed is a 32-byte Ed25519 private key seed. The identity of an API key
 * equals the identity of any certificate built from the same key.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createSelfSignedCertificate } from './certificate.js';
import { KesError, isKesError } from './errors.js';
import { identityOfPublicKey } from './identity.js';
import { decodeStdBase64 } from './internal/asn1-pem.js';

const PREFIX = 'kes:v1:';
const TYPE_ED25519 = 0x00;
const SEED_LENGTH = 32;
/** PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * An API key: an Ed25519 key pair that authenticates a client to a KES server.
 *
 * The key is a secret. `toString()` returns its text form because that is what an
 * API key is for (configuration files, `KES_API_KEY`); everything else that might
 * end up in a log — `JSON.stringify`, `util.inspect`, `console.log` — shows only the
 * identity.
 *
 * @example
 * const key = ApiKey.generate();
 * key.toString(); // 'kes:v1:…' (secret)
 * key.identity;   // 64 hex chars, safe to share
 */
export class ApiKey {
  readonly #seed: Buffer;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #identity: string;

  private constructor(seed: Uint8Array) {
    this.#seed = Buffer.from(seed);
    const der = Buffer.concat([PKCS8_ED25519_PREFIX, this.#seed]);
    this.#privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
    this.#publicKey = createPublicKey(this.#privateKey);
    this.#identity = identityOfPublicKey(this.#publicKey);
  }

  /**
   * Parses the text form. The `kes:v1:` prefix is optional (a bare base64 string is
   * accepted, as upstream does); the rest must be standard, padded base64 of 33 bytes
   * whose first byte is 0 (Ed25519).
   *
   * @throws KesError `ERR_KES_INVALID_API_KEY` with `invalid encoding`, `invalid length`
   *   or `unsupported type` (the key itself never appears in the message)
   * @example
   * ApiKey.parse(process.env.KES_API_KEY ?? '').identity; // e.g. a key from `kes identity new`
   */
  static parse(text: string): ApiKey {
    const body = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : text;
    const bytes = decodeStdBase64(body);
    if (bytes === undefined) throw new KesError('ERR_KES_INVALID_API_KEY', ['invalid encoding']);
    try {
      if (bytes.length !== 1 + SEED_LENGTH) throw new KesError('ERR_KES_INVALID_API_KEY', ['invalid length']);
      if (bytes[0] !== TYPE_ED25519) throw new KesError('ERR_KES_INVALID_API_KEY', ['unsupported type']);
      return new ApiKey(bytes.subarray(1));
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * Generates a fresh random API key.
   *
   * @example
   * const key = ApiKey.generate();
   */
  static generate(): ApiKey {
    const seed = randomBytes(SEED_LENGTH);
    try {
      return new ApiKey(seed);
    } finally {
      seed.fill(0);
    }
  }

  /**
   * The API key of an Ed25519 private key (a KeyObject or PKCS#8 PEM text), as
   * `kes identity of <key file>` does.
   *
   * @throws KesError `ERR_KES_INVALID_ARGUMENT` if the key is not an Ed25519 private key
   * @example
   * ApiKey.fromPrivateKey(readFileSync('client.key', 'utf8')).identity;
   */
  static fromPrivateKey(key: KeyObject | string): ApiKey {
    let object: KeyObject;
    try {
      object = typeof key === 'string' ? createPrivateKey({ key, format: 'pem' }) : key;
    } catch (e) {
      throw new KesError('ERR_KES_INVALID_ARGUMENT', ['privateKey is not a PEM private key'], { cause: e });
    }
    if (object.type !== 'private' || object.asymmetricKeyType !== 'ed25519') {
      throw new KesError('ERR_KES_INVALID_ARGUMENT', ['privateKey must be an Ed25519 private key']);
    }
    const der = object.export({ type: 'pkcs8', format: 'der' });
    try {
      if (der.length !== PKCS8_ED25519_PREFIX.length + SEED_LENGTH) {
        throw new KesError('ERR_KES_INVALID_ARGUMENT', ['privateKey must be an Ed25519 private key']);
      }
      return new ApiKey(der.subarray(PKCS8_ED25519_PREFIX.length));
    } finally {
      der.fill(0);
    }
  }

  /** The identity (hex SHA-256 of the public key's SubjectPublicKeyInfo). Not secret. */
  get identity(): string {
    return this.#identity;
  }

  /** The Ed25519 private key. Secret. */
  get privateKey(): KeyObject {
    return this.#privateKey;
  }

  /** The Ed25519 public key. */
  get publicKey(): KeyObject {
    return this.#publicKey;
  }

  /**
   * The text form `kes:v1:…`. **This is the secret key**: never log it.
   *
   * @example
   * writeFileSync('api.key', key.toString(), { mode: 0o600 });
   */
  toString(): string {
    const bytes = Buffer.concat([Buffer.of(TYPE_ED25519), this.#seed]);
    try {
      return PREFIX + bytes.toString('base64');
    } finally {
      bytes.fill(0);
    }
  }

  /** Redacted: `JSON.stringify` must never serialise the secret. */
  toJSON(): { identity: string } {
    return { identity: this.#identity };
  }

  /** Redacted for `util.inspect` / `console.log`. */
  [INSPECT](): string {
    return `ApiKey { identity: '${this.#identity}' }`;
  }

  /**
   * A self-signed client certificate for this key, as kms-go builds one: Ed25519,
   * CN = identity, valid from now for 90 days (or `validityDays`), KeyUsage
   * digitalSignature, ExtKeyUsage clientAuth, basicConstraints CA=false, random
   * 128-bit serial. Its identity equals this key's identity.
   *
   * @throws KesError `ERR_KES_INVALID_ARGUMENT` if `validityDays` is not a positive number
   * @example
   * const { certificatePem, privateKeyPem } = ApiKey.generate().createCertificate();
   * tls.connect({ cert: certificatePem, key: privateKeyPem, … });
   */
  createCertificate(options: { validityDays?: number } = {}): { certificatePem: string; privateKeyPem: string } {
    try {
      const { certificatePem, privateKeyPem } = createSelfSignedCertificate({
        privateKey: this.#privateKey,
        commonName: this.#identity,
        validityDays: options.validityDays ?? 90,
        extKeyUsage: ['clientAuth'],
        isCA: false,
      });
      return { certificatePem, privateKeyPem };
    } catch (e) {
      if (isKesError(e, 'ERR_KES_INVALID_ARGUMENT')) {
        throw new KesError('ERR_KES_INVALID_ARGUMENT', ['validityDays must be a positive number'], { cause: e });
      }
      throw e;
    }
  }
}
