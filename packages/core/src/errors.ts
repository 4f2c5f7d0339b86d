/**
 * The error catalogue: every error a KES server can return, with its stable code,
 * its HTTP status and its exact upstream wire message.
 *
 * Codes are stable API: callers `switch (err.code)`. Messages are the upstream
 * texts byte for byte, because existing clients (kms-go, MinIO) match on them.
 */

type Fixed = { readonly status: number; readonly message: string };
type Templated<A extends readonly string[]> = {
  readonly status: number;
  readonly message: (...args: A) => string;
};

/** Code → HTTP status and wire message. Templated messages take the arguments shown. */
export const ERROR_CATALOGUE = {
  ERR_KES_NOT_ALLOWED: { status: 403, message: 'not authorized: insufficient permissions' },
  ERR_KES_KEY_NOT_FOUND: { status: 404, message: 'key does not exist' },
  ERR_KES_KEY_EXISTS: { status: 400, message: 'key already exists' },
  ERR_KES_POLICY_NOT_FOUND: { status: 404, message: 'policy does not exist' },
  ERR_KES_IDENTITY_NOT_FOUND: { status: 404, message: 'identity does not exist' },
  ERR_KES_DECRYPT: { status: 400, message: 'decryption failed: ciphertext is not authentic' },
  ERR_KES_NOT_REPLICATED: { status: 503, message: 'change committed but not replicated' },
  /** kes-ts: the audit file could not be written and `fail_closed` refuses to serve unaudited. */
  ERR_KES_AUDIT_UNAVAILABLE: { status: 503, message: 'audit log is unavailable' },

  ERR_KES_INSECURE_CONNECTION: { status: 400, message: 'insecure connection: TLS is required' },
  ERR_KES_CLIENT_CERT_REQUIRED: { status: 400, message: 'tls: client certificate is required' },
  ERR_KES_TOO_MANY_CLIENT_CERTS: { status: 400, message: 'tls: received more than one client certificate' },
  ERR_KES_PROXY_NO_CERT: { status: 400, message: 'no client certificate is present' },
  ERR_KES_PROXY_TOO_MANY_CERTS: { status: 400, message: 'too many client certificates are present' },
  ERR_KES_PROXY_INVALID_CERT: { status: 400, message: 'invalid client certificate' },

  ERR_KES_METHOD_NOT_ALLOWED: {
    status: 405,
    message: (got: string, want: string) => `received method '${got}' expected '${want}'`,
  } satisfies Templated<[string, string]>,
  ERR_KES_INVALID_KEY_NAME: {
    status: 400,
    message: (name: string) => `key name '${name}' is empty, too long or contains invalid characters`,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_POLICY_NAME: {
    status: 400,
    message: (name: string) => `policy name '${name}' is empty, too long or contains invalid characters`,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_IDENTITY: {
    status: 400,
    message: (name: string) => `identity '${name}' is empty, too long or contains invalid characters`,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_PATTERN: {
    status: 400,
    message: (pattern: string) => `listing pattern '${pattern}' is empty, too long or is invalid`,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_REQUEST_BODY: { status: 400, message: 'invalid request body' },
  ERR_KES_INVALID_IMPORT_BODY: { status: 400, message: 'invalid import key request body' },
  ERR_KES_UNSUPPORTED_ALGORITHM: {
    status: 406,
    message: (alg: string) => `algorithm '${alg}' is not supported`,
  } satisfies Templated<[string]>,
  ERR_KES_ALGORITHM_NOT_FIPS: {
    status: 406,
    message: (alg: string) => `algorithm '${alg}' not supported by FIPS 140-2`,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_KEY_SIZE: {
    status: 406,
    message: (alg: string) => `invalid key size for '${alg}'`,
  } satisfies Templated<[string]>,
  ERR_KES_HMAC_NOT_SUPPORTED: { status: 409, message: 'key does not support HMAC' },

  /** kes-ts key versions (docs/key-rotation.md). */
  ERR_KES_VERSIONS_DISABLED: { status: 404, message: 'key versions are not enabled' },
  ERR_KES_INVALID_VERSION: { status: 400, message: 'invalid key version' },
  ERR_KES_VERSION_NOT_FOUND: { status: 404, message: 'key version does not exist' },
  ERR_KES_VERSION_NOT_ALLOWED: { status: 400, message: 'key version is not allowed for encryption' },
  ERR_KES_VERSION_PROTECTED: { status: 400, message: 'key version 1 cannot be deleted' },
  ERR_KES_INVALID_VERSION_CONFIG: {
    status: 400,
    message: (why: string) => `invalid key version config: ${why}`,
  } satisfies Templated<[string]>,
  ERR_KES_ROTATE_FAILED: { status: 502, message: 'failed to rotate key' },
  ERR_KES_ROTATE_CONFLICT: { status: 409, message: 'key is being rotated concurrently, try again' },

  ERR_KES_CREATE_KEY_FAILED: { status: 502, message: 'failed to create key' },
  ERR_KES_IMPORT_KEY_FAILED: { status: 500, message: 'failed to create key' },
  ERR_KES_READ_KEY_FAILED: { status: 502, message: 'failed to read key' },
  ERR_KES_DELETE_KEY_FAILED: { status: 502, message: 'failed to delete key' },
  ERR_KES_LIST_KEYS_FAILED: { status: 502, message: 'failed to list keys' },
  ERR_KES_GENERATE_KEY_FAILED: { status: 500, message: 'failed to generate encryption key' },
  ERR_KES_ENCRYPT_FAILED: { status: 500, message: 'failed to encrypt plaintext' },
  ERR_KES_DECRYPT_FAILED: { status: 500, message: 'failed to decrypt ciphertext' },
  ERR_KES_KEYSTORE_UNREACHABLE: { status: 504, message: 'key store is not reachable' },
  ERR_KES_KEYSTORE_UNAVAILABLE: { status: 502, message: 'key store is unavailable' },
  ERR_KES_VERSION_UNKNOWN: { status: 500, message: 'failed to read server version' },

  /** Library-side argument errors (never produced by an upstream route). */
  ERR_KES_INVALID_ARGUMENT: {
    status: 400,
    message: (what: string) => what,
  } satisfies Templated<[string]>,
  /** A server config file (or the flags standing in for it) is invalid; the CLI prints every problem. */
  ERR_KES_INVALID_CONFIG: {
    status: 500,
    message: (what: string) => what,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_API_KEY: {
    status: 400,
    message: (why: string) => `invalid API key: ${why}`,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_CERTIFICATE: {
    status: 400,
    message: (why: string) => `invalid certificate: ${why}`,
  } satisfies Templated<[string]>,
  ERR_KES_INVALID_KEY_ENCODING: {
    status: 500,
    message: (why: string) => `invalid key encoding: ${why}`,
  } satisfies Templated<[string]>,
  /** Anything not catalogued: the client sees only this; the detail is the `cause`. */
  ERR_KES_INTERNAL: { status: 500, message: 'internal server error' },
} as const satisfies Record<string, Fixed | Templated<never>>;

/** Every stable error code. */
export type KesErrorCode = keyof typeof ERROR_CATALOGUE;

/** The arguments a code's message takes (an empty tuple for fixed messages). */
export type KesErrorArgs<C extends KesErrorCode> = (typeof ERROR_CATALOGUE)[C]['message'] extends (...args: infer A) => string ? A : [];

const BRAND = Symbol.for('kes.error');

/**
 * The one error class of kes-ts. `code` is stable, `status` is the HTTP status a
 * server answers with, `message` is the exact wire text. Never put secrets into
 * arguments: they become part of the message.
 *
 * @example
 * throw new KesError('ERR_KES_INVALID_KEY_NAME', ['a.b']);
 */
export class KesError<C extends KesErrorCode = KesErrorCode> extends Error {
  readonly code: C;
  readonly status: number;

  constructor(code: C, ...rest: KesErrorArgs<C> extends [] ? [args?: [], options?: ErrorOptions] : [args: KesErrorArgs<C>, options?: ErrorOptions]) {
    const [args, options] = rest as [string[] | undefined, ErrorOptions | undefined];
    const entry = ERROR_CATALOGUE[code] as Fixed | { status: number; message: (...a: string[]) => string };
    const message = typeof entry.message === 'function' ? entry.message(...(args ?? [])) : entry.message;
    super(message, options);
    this.name = 'KesError';
    this.code = code;
    this.status = entry.status;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Matches KesErrors from any copy of this package (duplicate installs). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isKesError(value);
  }
}

/** True if `value` is a KesError (from any installed copy of `@kes/core`); narrows on `code` when given. */
export function isKesError<C extends KesErrorCode>(value: unknown, code?: C): value is KesError<C> {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (value as KesError).code === code;
}
