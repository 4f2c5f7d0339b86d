// The start-up check of `kes server`: a key store that cannot work (an fs path that
// is a file, a Vault that refuses the login, AWS credentials that are rejected, a
// backend that is down) stops the start with one clear line, instead of a server
// that answers 502 to every request.
import { isKesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import { ConfigError } from '../config/config-error.js';
import { describeKeyStore, keyStoreSectionPath } from '../config/keystores/index.js';
import type { ConfigKeyStore } from '../config/types.js';

/** How long the whole check may take before the start is refused. */
export const KEY_STORE_CHECK_TIMEOUT_MS = 30_000;

/**
 * A key name read (never written) by the Vault check. Absent in practice; if a key
 * of that name exists its value is read and wiped at once.
 */
export const KEY_STORE_CHECK_NAME = 'kes-start-check';

/** Options of {@link checkKeyStoreAtStart}. */
export interface KeyStoreCheckOptions {
  /** File name for the message (default `config`). */
  readonly file?: string;
  /** Deadline of the whole check (default {@link KEY_STORE_CHECK_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
}

/**
 * Probes a freshly opened key store before the server starts.
 *
 * Every store: `status()` (fs: the directory exists or can be created and is a
 * directory; AWS: a signed `ListSecrets`, so rejected credentials fail here). Vault
 * additionally reads {@link KEY_STORE_CHECK_NAME}: its `status()` is `sys/health`,
 * which needs no token, so only an authenticated call shows a refused login, a
 * rejected token, a policy without read access or a wrong engine mount. A read is
 * the least a working KES needs; "not found" is the expected answer.
 *
 * A store that is merely unreachable fails too, as upstream KES fails its start
 * when it cannot connect to most backends.
 *
 * @throws `ERR_KES_INVALID_CONFIG` ({@link ConfigError}) naming the key store and the
 *   reason (the store's error detail: HTTP status and the backend's error text, never
 *   credentials or key values).
 * @example
 * await checkKeyStoreAtStart(store, config.keyStore, { file: config.file });
 */
export async function checkKeyStoreAtStart(store: KeyStore, settings: ConfigKeyStore, options: KeyStoreCheckOptions = {}): Promise<void> {
  if (settings.type === 'memory') return;
  const timeoutMs = options.timeoutMs ?? KEY_STORE_CHECK_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await store.status({ signal });
    if (settings.type === 'vault') {
      try {
        const value = await store.get(KEY_STORE_CHECK_NAME, { signal });
        value.fill(0);
      } catch (err) {
        if (!isKesError(err, 'ERR_KES_KEY_NOT_FOUND')) throw err;
      }
    }
  } catch (err) {
    const reason = signal.aborted && err === signal.reason ? `no answer within ${Math.round(timeoutMs / 1000)} s` : reasonOf(err, settings);
    throw new ConfigError(
      [`${options.file ?? 'config'}: keystore.${keyStoreSectionPath(settings)}: key store check failed: ${describeKeyStore(settings)}: ${reason}`],
      {
        cause: err,
      },
    );
  }
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** The detail of a store error: the messages along its `cause` chain (the store keeps secrets out of them). */
export function causeText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = isKesError(err) ? err.cause : err;
  for (let depth = 0; e !== undefined && depth < 4; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    // The first line only (SDK errors append multi-line hints); a cause already quoted by its parent is skipped.
    const line = message.split('\n')[0]?.trim() ?? '';
    if (line !== '' && !parts.some((p) => p.includes(line))) parts.push(line);
    e = e instanceof Error ? e.cause : undefined;
  }
  if (parts.length === 0) return isKesError(err) ? err.message : String(err);
  return parts.join(': ');
}

function reasonOf(err: unknown, settings: ConfigKeyStore): string {
  if (settings.type === 'fs') {
    const cause = isKesError(err) ? err.cause : err;
    const code = errno(cause);
    if (code === 'EEXIST' || code === 'ENOTDIR' || (cause instanceof Error && /is not a directory$/.test(cause.message))) {
      return `'${settings.options.path}' is not a directory and cannot be created as one (a file is in the way)`;
    }
    if (code === 'EACCES' || code === 'EPERM') return `'${settings.options.path}': permission denied`;
    if (code === 'EROFS') return `'${settings.options.path}': read-only file system`;
  }
  const detail = causeText(err);
  const hints: string[] = [];
  if (isKesError(err, 'ERR_KES_KEYSTORE_UNREACHABLE')) {
    hints.push('the key store is unreachable; like upstream KES, the server does not start without it');
  }
  if (/\bHTTP 40[13]\b/.test(detail)) {
    hints.push(
      settings.type === 'vault'
        ? 'the login or token was rejected, or its Vault policy does not allow reading keys'
        : 'the credentials were rejected or lack permission',
    );
  } else if (/\bHTTP 400\b/.test(detail) && /\blogin\b/.test(detail)) {
    hints.push('the login was rejected: check the AppRole IDs or the Kubernetes role and JWT');
  }
  if (/no handler for route/i.test(detail))
    hints.push('no such engine or auth mount: check engine, approle.engine / kubernetes.engine and namespace');
  return hints.length > 0 ? `${detail} (${hints.join('; ')})` : detail;
}
