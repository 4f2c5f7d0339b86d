import type { KeyStore, PatternSemantics, PolicyDefinition } from '@kes/core';
import type { AuditFileOptions } from './internal/audit-file.js';

/** One policy as the server holds it: allow/deny patterns plus the identities it applies to. */
export interface ServerPolicy extends PolicyDefinition {
  /** Identities (lowercase hex) assigned to this policy. */
  readonly identities?: readonly string[];
}

/** Per-route overrides, keyed by route key exactly as in `/v1/api` (e.g. `/v1/key/create/`). */
export interface RouteOverride {
  /** Route timeout in milliseconds; `0`/absent keeps the default. */
  readonly timeoutMs?: number;
  /** Identify the caller but skip the admin/policy check. */
  readonly skipAuth?: boolean;
}

/** Cache expiry settings (spec §10), all in milliseconds; `0` disables that sweep. */
export interface CacheOptions {
  readonly expiryAnyMs?: number;
  readonly expiryUnusedMs?: number;
  readonly expiryOfflineMs?: number;
  /** How often the key store is probed for the offline flag (default 10 000). */
  readonly probeIntervalMs?: number;
}

/** TLS settings. PEM strings or Buffers, or file paths via `certFile`/`keyFile` (re-read on reload). */
export interface TlsOptions {
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Password of an encrypted private key. */
  readonly password?: string;
  /** CA certificates (PEM) used to verify clients when `auth` is `'on'`. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  readonly caFile?: string;
  /** `'off'` (default): any client certificate, identity by public-key hash. `'on'`: verify against `ca`. */
  readonly auth?: 'on' | 'off';
  /** TLS proxies: identities allowed to forward a client certificate in `header`. */
  readonly proxy?: { readonly identities: readonly string[]; readonly header?: string; readonly forwardedForHeader?: string };
  /** Serve HTTP/2 (ALPN h2) with HTTP/1.1 fallback. */
  readonly http2?: boolean;
  /** How often `certFile`/`keyFile`/`caFile` are re-read (default 15 minutes; `0` disables). */
  readonly reloadIntervalMs?: number;
}

/**
 * Connection limits of `createKesServer()`. Every limit has a value: a client must not be
 * able to hold a connection, or many of them, for free (docs/security.md, finding 2).
 */
export interface ConnectionLimits {
  /** Most open connections (TLS handshakes included); more are refused at accept. Default 10 000. */
  readonly maxConnections?: number;
  /** Time to complete the TLS handshake and to receive a request's headers, in ms. Default 5 000 (upstream's header timeout). */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body, in ms (at least `headersTimeoutMs`). Default 30 000. */
  readonly requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms. Default 90 000 (upstream's). */
  readonly idleTimeoutMs?: number;
}

/**
 * Log levels as upstream spells them, lowest first, plus `'off'`. The one list the CLI's
 * config schema and flags check against.
 *
 * @example
 * (LOG_LEVELS as readonly string[]).includes(value); // a valid `log.error` / `log.audit`
 */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'off'] as const;

/** One of `LOG_LEVELS`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Log settings. Levels as upstream (`LOG_LEVELS`).
 * These gate the console streams only; `/v1/log/*` subscribers and `handler.on()`
 * listeners always receive every event.
 */
export interface LogOptions {
  /** Console error log threshold; absent = `'INFO'` (on). Errors are logged at ERROR. */
  readonly error?: LogLevel;
  /**
   * Console audit log threshold; audit records are INFO, so `'DEBUG'`/`'INFO'` turn it on.
   * Absent = `'off'` in the library (upstream's config default is INFO: the CLI passes it explicitly).
   */
  readonly audit?: LogLevel;
  /** Where console log lines go (default: error log → stderr, audit → stdout). */
  readonly errorStream?: NodeJS.WritableStream;
  readonly auditStream?: NodeJS.WritableStream;
  /** `'text'` (slog-like, default on a TTY) or `'json'`. */
  readonly format?: 'text' | 'json';
  /**
   * kes-ts: append every audit record to a file, written before the reply goes out, rotated
   * by size, optionally fail-closed (503 instead of an unaudited reply). See `docs/configuration.md`.
   */
  readonly auditFile?: AuditFileOptions;
}

/** Everything `createKesServer()` and `createKesHandler()` take. Only `admin` and `keyStore` are required. */
export interface KesServerOptions {
  /** Admin identity (64 lowercase hex); any other value disables admin access. */
  readonly admin: string;
  readonly keyStore: KeyStore;
  readonly policies?: Readonly<Record<string, ServerPolicy>>;
  /** Policy pattern semantics: `'prefix'` (current, default) or `'glob'` (v0.22 and older configs). */
  readonly patternSemantics?: PatternSemantics;
  readonly cache?: CacheOptions;
  readonly api?: Readonly<Record<string, RouteOverride>>;
  readonly tls?: TlsOptions;
  readonly log?: LogOptions;
  /** Keys created at start (and on reload) if missing. */
  readonly keys?: readonly { readonly name: string }[];
  /** Connection limits (HTTPS server only; the in-process handler has no connections). */
  readonly limits?: ConnectionLimits;
  /** Listen address `host:port` (default `0.0.0.0:7373`). */
  readonly address?: string;
  /** What `/version` and `/v1/status` report (default: this package's version, commit `<unknown>`). */
  readonly build?: { readonly version?: string; readonly commit?: string };
  /** Key versions and rotation (off by default; see docs/key-rotation.md). */
  readonly keyVersions?: KeyVersionsOptions;
}

/**
 * Key versions and rotation (docs/key-rotation.md). Off by default: a server without it
 * behaves exactly like upstream KES and never reads or writes version records.
 */
export interface KeyVersionsOptions {
  /** Turns key versions on; the key store must keep version records (`KeyStore.versions`). */
  readonly enabled: boolean;
  /** Rotate keys matching a pattern once their newest version is older than `everyMs`. */
  readonly autoRotate?: readonly AutoRotateRule[];
  /** How often automatic rotation looks at the keys (default 1 hour). */
  readonly autoRotateCheckMs?: number;
  /**
   * Run automatic rotation in this server (default true). A cluster runs it in one worker;
   * servers sharing a store may all run it: records are create-only, so a key is rotated once.
   */
  readonly autoRotateHere?: boolean;
}

/** One automatic rotation rule. */
export interface AutoRotateRule {
  /** Key names it covers: a policy-style pattern (`minio-*`, `*`, or one name). */
  readonly pattern: string;
  /** Rotate when the newest version is at least this old (milliseconds). */
  readonly everyMs: number;
}
