/**
 * Client-side errors: what went wrong on the way to a KES server (unreachable, TLS,
 * timeout, a reply that is not KES), and the mapping of a server's error reply back to
 * the `KesError` code the server raised (kes-protocol.md §3.3).
 */
import { ERROR_CATALOGUE, KesError } from '@kes/core';
import type { KesErrorCode } from '@kes/core';

/**
 * Every code a `KesClientError` carries.
 * - `ERR_KES_CLIENT_HTTP`: an error reply whose status and message are not in the catalogue.
 * - `ERR_KES_CLIENT_UNREACHABLE`: no connection (refused, unknown host, reset, connect timeout).
 * - `ERR_KES_CLIENT_TLS`: the TLS handshake failed (untrusted or wrong server certificate,
 *   or the server refused the client certificate).
 * - `ERR_KES_CLIENT_TIMEOUT`: the call did not finish within `timeoutMs`.
 * - `ERR_KES_CLIENT_PROTOCOL`: a 2xx reply that is not what the API defines (bad JSON, a
 *   missing field, invalid base64, a reply too large).
 * - `ERR_KES_CLIENT_CLOSED`: the client was closed.
 *
 * @example
 * if (isKesClientError(e) && KES_CLIENT_ERROR_CODES.includes(e.code)) process.exitCode = 1;
 */
export const KES_CLIENT_ERROR_CODES = [
  'ERR_KES_CLIENT_HTTP',
  'ERR_KES_CLIENT_UNREACHABLE',
  'ERR_KES_CLIENT_TLS',
  'ERR_KES_CLIENT_TIMEOUT',
  'ERR_KES_CLIENT_PROTOCOL',
  'ERR_KES_CLIENT_CLOSED',
] as const;

/** One of `KES_CLIENT_ERROR_CODES`. */
export type KesClientErrorCode = (typeof KES_CLIENT_ERROR_CODES)[number];

/** Options of the `KesClientError` constructor. */
export interface KesClientErrorOptions extends ErrorOptions {
  /** HTTP status of the reply (`ERR_KES_CLIENT_HTTP`, `ERR_KES_CLIENT_PROTOCOL`); 0 when there was none. */
  status?: number;
  /** The endpoint the failure happened on, e.g. `https://127.0.0.1:7373`. */
  endpoint?: string;
}

const BRAND = Symbol.for('kes.client.error');

/**
 * A failure that is not one of the server's catalogued errors: the server could not be
 * reached, TLS failed, the call timed out, or the server answered with something this
 * client does not know. `code` is stable (switch on it); `message` tells the user what to
 * do next. Catalogued server errors are thrown as `KesError` from `@kes/core` instead.
 *
 * @example
 * try {
 *   await client.status();
 * } catch (e) {
 *   if (isKesClientError(e, 'ERR_KES_CLIENT_UNREACHABLE')) console.error(e.message);
 * }
 */
export class KesClientError extends Error {
  readonly code: KesClientErrorCode;
  /** HTTP status of the reply, or 0 when no reply was received. */
  readonly status: number;
  /** The endpoint the failure happened on (absent for `ERR_KES_CLIENT_CLOSED`). */
  readonly endpoint: string | undefined;

  constructor(code: KesClientErrorCode, message: string, options: KesClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KesClientError';
    this.code = code;
    this.status = options.status ?? 0;
    this.endpoint = options.endpoint;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Matches KesClientErrors from any copy of this package (duplicate installs). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isKesClientError(value);
  }
}

/**
 * True if `value` is a KesClientError (from any installed copy of `@kes/client`); narrows
 * on `code` when given.
 *
 * @example
 * if (isKesClientError(e, 'ERR_KES_CLIENT_TLS')) console.error('TLS problem:', e.message);
 */
export function isKesClientError<C extends KesClientErrorCode>(value: unknown, code?: C): value is KesClientError & { code: C } {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (value as KesClientError).code === code;
}

// ---------------------------------------------------------------------------------------
// Error replies → catalogue codes

/** Messages older servers (up to v0.17) send for what the catalogue now words differently (§12). */
const LEGACY_MESSAGES: readonly { status: number; message: string; code: KesErrorCode }[] = [
  { status: 400, message: 'key does already exist', code: 'ERR_KES_KEY_EXISTS' },
  { status: 403, message: 'prohibited by policy', code: 'ERR_KES_NOT_ALLOWED' },
];

interface Template {
  readonly status: number;
  readonly code: KesErrorCode;
  readonly pattern: RegExp;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Status + exact message → code, and the templated messages as anchored patterns whose
 * groups are the template arguments. Built from the catalogue once, so a code added to
 * `@kes/core` is recognised without touching this file. Templates that are only an
 * argument (`ERR_KES_INVALID_ARGUMENT`, `ERR_KES_INVALID_CONFIG`: `(what) => what`) would
 * match every message; they are library-side errors no server sends, so they are left out.
 */
function buildIndex(): { fixed: Map<string, KesErrorCode>; templates: Template[] } {
  const fixed = new Map<string, KesErrorCode>();
  const templates: Template[] = [];
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE) as [KesErrorCode, { status: number; message: unknown }][]) {
    if (typeof entry.message === 'string') {
      fixed.set(`${entry.status} ${entry.message}`, code);
      continue;
    }
    const render = entry.message as (...args: string[]) => string;
    const marks = Array.from({ length: render.length }, (_, i) => `\u0000${i}\u0000`);
    const text = render(...marks);
    let source = escapeRegExp(text);
    for (const m of marks) source = source.replace(escapeRegExp(m), '([\\s\\S]*)');
    if (source === '([\\s\\S]*)') continue; // catch-all template: see above
    templates.push({ status: entry.status, code, pattern: new RegExp(`^${source}$`) });
  }
  for (const l of LEGACY_MESSAGES) fixed.set(`${l.status} ${l.message}`, l.code);
  return { fixed, templates };
}

let index: ReturnType<typeof buildIndex> | undefined;

/**
 * The `KesError` a server raised, recovered from the status and message of its reply
 * (exact match against the catalogue, including the legacy texts of old servers), or
 * `undefined` for a reply the catalogue does not know.
 *
 * @example
 * kesErrorOf(404, 'key does not exist')?.code; // 'ERR_KES_KEY_NOT_FOUND'
 * kesErrorOf(400, 'key does already exist')?.code; // 'ERR_KES_KEY_EXISTS' (KES ≤ v0.17)
 */
export function kesErrorOf(status: number, message: string): KesError | undefined {
  index ??= buildIndex();
  const code = index.fixed.get(`${status} ${message}`);
  if (code !== undefined) return new KesError(code as 'ERR_KES_KEY_NOT_FOUND');
  for (const t of index.templates) {
    if (t.status !== status) continue;
    const m = t.pattern.exec(message);
    if (m === null) continue;
    const args = m.slice(1) as string[];
    // The message re-rendered from the arguments must be the reply itself, so a template
    // whose pieces could match ambiguously never yields a different text.
    const e = new KesError(t.code as 'ERR_KES_INVALID_KEY_NAME', args as [string]);
    if (e.message === message) return e;
  }
  return undefined;
}

/** Longest error message kept from a reply: a server must not be able to fill a terminal or a log. */
const MAX_MESSAGE_LENGTH = 1024;

/**
 * The message of an error reply as KES clients read it: the `message` (or `error`) field
 * of a JSON body when the reply says it is JSON, otherwise the body text.
 */
export function replyMessage(contentType: string | undefined, body: Buffer): string {
  const text = body.toString('utf8');
  let message: string | undefined;
  if (contentType?.toLowerCase().startsWith('application/json')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === 'object' && parsed !== null) {
        const o = parsed as Record<string, unknown>;
        if (typeof o.message === 'string') message = o.message;
        else if (typeof o.error === 'string') message = o.error;
      }
    } catch {
      // not JSON after all: fall back to the text
    }
  }
  message ??= text.trim();
  return message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}…` : message;
}

/**
 * The error to throw for a non-2xx reply: the catalogued `KesError` the server raised, or
 * a `KesClientError` (`ERR_KES_CLIENT_HTTP`) with the status and the server's message.
 */
export function errorOfReply(status: number, contentType: string | undefined, body: Buffer, endpoint: string): KesError | KesClientError {
  const message = replyMessage(contentType, body);
  const known = kesErrorOf(status, message);
  if (known !== undefined) return known;
  return new KesClientError('ERR_KES_CLIENT_HTTP', message === '' ? `${endpoint} answered with HTTP status ${status}` : message, {
    status,
    endpoint,
  });
}
