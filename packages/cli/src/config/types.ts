// The one config model: a loaded config file is the server's own option types
// (`KesServerOptions` fields, the registry's `KeyStoreConfig`) plus the few facts
// about the file that only a front end needs (warnings, era markers, file name).
import type { KeyStoreConfig } from '@kes/keystores';
import type { KesServerOptions } from '@kes/server';

/**
 * What a config file sets of `createKesServer()`'s options: everything but the
 * opened key store. The sections a file always yields (with their defaults) are
 * required here, so a caller needs no `?.`. `address` is present only when the
 * file (or `--addr`) sets one; the server's default is `0.0.0.0:7373`.
 */
export type ConfigServerOptions = Omit<KesServerOptions, 'keyStore'> &
  Required<Pick<KesServerOptions, 'policies' | 'patternSemantics' | 'cache' | 'api' | 'tls' | 'log' | 'keys'>>;

/**
 * A key-store section kes-ts reads but cannot run (`kes`, `generic`: removed in upstream
 * KES v0.23). Loading succeeds, so every other problem of the file is still reported;
 * opening it fails (see `openKeyStore`).
 */
export interface UnsupportedKeyStoreConfig {
  readonly type: 'unsupported';
  /** The section under `keystore:` (`gcp`). */
  readonly name: string;
}

/** The key store a config file selects: `createKeyStore()`'s argument, or an unsupported section. */
export type ConfigKeyStore = KeyStoreConfig | UnsupportedKeyStoreConfig;

/** A loaded, validated config file (every era normalised to the current layout). */
export interface LoadedConfig {
  /** The file it came from (`config` when parsed from text without a name, `(flags)` for the seed flags). */
  readonly file: string;
  /** The server options it sets; add `keyStore` to pass them to `createKesServer()`. */
  readonly options: ConfigServerOptions;
  /** The key store it selects (open it with `openKeyStore`). */
  readonly keyStore: ConfigKeyStore;
  /**
   * True when no key store is configured and the in-memory store was chosen only
   * because of {@link LoadConfigOptions.implicitMemoryStore}: keys are lost on exit,
   * and a front end should say so loudly.
   */
  readonly implicitMemoryStore: boolean;
  /**
   * `workers:`: how many server processes `kes server` runs (`1` = one process). Absent
   * when the file does not set it; `kes server` then uses one per available CPU. Not a
   * `createKesServer()` option: an embedding app runs one server per process.
   */
  readonly workers?: number;
  /**
   * The kes v0.x era markers found (`root`, `policy.<n>.paths`, …), in file order.
   * Non-empty exactly when `options.patternSemantics` is `'glob'`.
   */
  readonly legacyMarkers: readonly string[];
  /** Deprecation notices and other warnings, one line each, to show at start. */
  readonly warnings: readonly string[];
}

/** Values that take precedence over the file (the `kes server` flags). */
export interface ConfigOverrides {
  /** `--addr`. */
  readonly address?: string;
  /** `--root`: the admin identity. */
  readonly admin?: string;
  /** `--cert`. */
  readonly cert?: string;
  /** `--key`. */
  readonly key?: string;
  /** `--auth on|off`. */
  readonly auth?: string;
}

/** Options of `loadConfigFile`. */
export interface LoadConfigOptions {
  /**
   * Environment for `${VAR}` references. The loader never reads `process.env`
   * itself: pass it (the CLI does) or a map of your own.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values that take precedence over the file; a problem with one is reported under its flag. */
  readonly overrides?: ConfigOverrides;
  /** Base directory for relative paths in the file (default: none, kept as written). */
  readonly baseDir?: string;
  /**
   * Use the in-memory store when no key store is configured, instead of failing.
   * Only for the seed-era flags without a config file (`kes server --cert --key
   * --root`), where no key store can be configured (kes v0.8–v0.17 behaved so).
   * A config file without a key store is always an error: a typo such as
   * `keystor:` must not end in a store that loses every key on restart.
   */
  readonly implicitMemoryStore?: boolean;
}

/** Options of `parseConfigText`. */
export interface ParseConfigOptions extends LoadConfigOptions {
  /** File name used in messages (default `config`). */
  readonly file?: string;
}
