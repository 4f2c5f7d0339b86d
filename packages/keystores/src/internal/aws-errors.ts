/**
 * Classifies and sanitises errors of the AWS SDK for the Secrets Manager key store.
 *
 * The SDK's error objects carry the raw HTTP response (`$response`, with headers
 * and body) and the SDK's metadata. A key store must not hand any of that to a
 * logger: a misbehaving endpoint (or proxy) may echo the request, and the request
 * of `CreateSecret` contains the key value. So every error leaves the store as a
 * fresh, flat `Error` that keeps only name, message, HTTP status and request id,
 * with known secret texts scrubbed from the message.
 */

/** Node's error codes of a connection that could not be made or was lost. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/** Error names the SDK gives to a request that ran out of time. */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/** The flat, log-safe view of an SDK error (the `cause` of a KesError). */
export interface AwsErrorCause extends Error {
  /** AWS error code (`ResourceNotFoundException`, …) or Node error code (`ECONNREFUSED`). */
  readonly code: string;
  /** HTTP status of the AWS answer, if there was one. */
  readonly status?: number;
  /** AWS request id, if there was an answer. */
  readonly requestId?: string;
}

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** The AWS error code of `err` (`ResourceExistsException`, `ThrottlingException`, …), or `''`. */
export function awsErrorCode(err: unknown): string {
  const type = str(field(err, '__type'));
  // `__type` may come as `namespace#Code`.
  if (type) return type.slice(type.lastIndexOf('#') + 1);
  return str(field(err, 'Code')) ?? str(field(err, 'name')) ?? '';
}

/** The HTTP status of the AWS answer behind `err`, if there was one. */
export function awsErrorStatus(err: unknown): number | undefined {
  const meta = field(err, '$metadata');
  const status = field(meta, 'httpStatusCode');
  return typeof status === 'number' ? status : undefined;
}

/** The message of `err` as text (`''` if it has none). */
export function awsErrorMessage(err: unknown): string {
  return str(field(err, 'message')) ?? str(field(err, 'Message')) ?? '';
}

/**
 * True if the request never got an HTTP answer: refused or reset connection,
 * DNS failure, or a timeout.
 */
export function isAwsNetworkError(err: unknown): boolean {
  const code = str(field(err, 'code'));
  if (code && NETWORK_CODES.has(code)) return true;
  if (TIMEOUT_NAMES.has(str(field(err, 'name')) ?? '')) return true;
  const cause = field(err, 'cause');
  if (cause !== undefined && cause !== err && isAwsNetworkError(cause)) return true;
  // Node's happy-eyeballs connect reports an AggregateError of the attempts.
  const errors = field(err, 'errors');
  return Array.isArray(errors) && errors.length > 0 && errors.every((e) => e !== err && isAwsNetworkError(e));
}

/**
 * A flat `Error` for logs that keeps only code, message, status and request id
 * of `err`. Every string in `secrets` (pass the value as text and as base64) is
 * replaced by `[REDACTED]` in the message, so an endpoint echoing the request cannot leak a
 * key value into a log.
 */
export function sanitizeAwsError(err: unknown, secrets: readonly string[] = []): AwsErrorCause {
  // An AWS answer has a `$fault`; a transport error has Node's `code` (ECONNREFUSED, …).
  const answered = field(err, '$fault') !== undefined || str(field(err, '__type')) !== undefined;
  const code = (answered ? awsErrorCode(err) : (str(field(err, 'code')) ?? awsErrorCode(err))) || 'UnknownError';
  let message = awsErrorMessage(err) || code;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    message = message.split(secret).join('[REDACTED]');
  }
  const status = awsErrorStatus(err);
  const requestId = str(field(field(err, '$metadata'), 'requestId'));
  const cause = new Error(`aws secretsmanager: ${code}${status === undefined ? '' : ` (HTTP ${status})`}: ${message}`);
  cause.name = 'AwsSecretsManagerError';
  return Object.assign(cause, { code }, status === undefined ? {} : { status }, requestId ? { requestId } : {});
}
