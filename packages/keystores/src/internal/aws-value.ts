/**
 * How a key value is laid out in a Secrets Manager secret, as upstream KES does:
 * the value is the secret's `SecretString` (KES values are base64 or JSON text).
 * A value that is not valid UTF-8 cannot be a `SecretString`; it is stored as
 * `SecretBinary`, which upstream reads as well (it takes `SecretString` when
 * present, else `SecretBinary`).
 */
import { copyBytes } from './bytes.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

/** The secret payload for a value: exactly one of the two fields is set. */
export type AwsSecretPayload = { SecretString: string } | { SecretBinary: Uint8Array };

/**
 * Encodes `value` for `CreateSecret`: as text when the bytes are valid UTF-8
 * (upstream's layout), otherwise as binary. The binary payload is a copy.
 */
export function encodeAwsSecret(value: Uint8Array): AwsSecretPayload {
  let text: string;
  try {
    text = strictUtf8.decode(value);
  } catch {
    return { SecretBinary: copyBytes(value) };
  }
  return { SecretString: text };
}

/**
 * Decodes the answer of `GetSecretValue`: `SecretString` when present (as
 * upstream), else `SecretBinary`. Returns `undefined` when the secret has
 * neither. The result never aliases the SDK's buffers.
 */
export function decodeAwsSecret(out: { SecretString?: string | undefined; SecretBinary?: Uint8Array | undefined }): Uint8Array | undefined {
  if (typeof out.SecretString === 'string') return utf8.encode(out.SecretString);
  if (out.SecretBinary instanceof Uint8Array) return copyBytes(out.SecretBinary);
  return undefined;
}
