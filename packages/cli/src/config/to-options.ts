// KesConfig → KesServerOptions: the one place where a config's key store is opened.
import type { KeyStore } from '@kes/core';
import { createKeyStore } from '@kes/keystores';
import type { KeyStoreConfig } from '@kes/keystores';
import type { KesServerOptions, RouteOverride, ServerPolicy } from '@kes/server';
import { ConfigError } from './config-error.js';
import type { KesConfig, KeyStoreSettings } from './load.js';

/** Options of {@link configToServerOptions}. */
export interface ConfigToServerOptionsOptions {
  /** Use this key store instead of opening the configured one (reload reuses the running store). */
  readonly keyStore?: KeyStore;
}

/**
 * The `createKeyStore()` argument for a config's key store section.
 *
 * @throws `ERR_KES_INVALID_CONFIG` for a backend kes-ts cannot run (gcp, azure, …).
 * @example
 * const store = await createKeyStore(keyStoreConfigOf(config.keystore, config.file));
 */
export function keyStoreConfigOf(settings: KeyStoreSettings, file = 'config'): KeyStoreConfig {
  switch (settings.type) {
    case 'memory':
      return { type: 'memory' };
    case 'fs':
      return { type: 'fs', options: { path: settings.path } };
    case 'vault':
      return { type: 'vault', options: { ...settings.options } };
    case 'aws':
      return { type: 'aws', options: { ...settings.options } };
    case 'unsupported':
      throw new ConfigError([`${file}: keystore.${settings.name}: key store '${settings.name}' is not supported by kes-ts yet (supported: fs, vault, aws, memory)`]);
  }
}

/** One line describing a key store for the start-up banner (`Filesystem: /var/kes`). */
export function describeKeyStore(settings: KeyStoreSettings): string {
  switch (settings.type) {
    case 'memory':
      return 'In Memory (keys are NOT persisted)';
    case 'fs':
      return `Filesystem: ${settings.path}`;
    case 'vault':
      return `Hashicorp Vault: ${settings.options.endpoint}`;
    case 'aws':
      return `AWS SecretsManager: ${settings.options.endpoint}`;
    case 'unsupported':
      return settings.name;
  }
}

/**
 * Builds the options for `createKesServer()` from a loaded config, opening its key store.
 *
 * @throws `ERR_KES_INVALID_CONFIG` for a key store kes-ts does not support;
 *   key-store option errors (`ERR_KES_INVALID_ARGUMENT`) from `@kes/keystores`.
 * @example
 * const server = await createKesServer(await configToServerOptions(await loadConfig('kes.yml', process.env)));
 */
export async function configToServerOptions(config: KesConfig, options: ConfigToServerOptionsOptions = {}): Promise<KesServerOptions> {
  const keyStore = options.keyStore ?? (await createKeyStore(keyStoreConfigOf(config.keystore, config.file || 'config')));
  const policies: Record<string, ServerPolicy> = {};
  for (const [name, p] of Object.entries(config.policies)) {
    policies[name] = { allow: [...p.allow], deny: [...p.deny], identities: [...p.identities] };
  }
  const api: Record<string, RouteOverride> = {};
  for (const [route, o] of Object.entries(config.api)) {
    api[route] = { ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), ...(o.skipAuth ? { skipAuth: true } : {}) };
  }
  const tls = config.tls;
  return {
    admin: config.admin,
    keyStore,
    policies,
    patternSemantics: config.patternSemantics,
    cache: { expiryAnyMs: config.cache.anyMs, expiryUnusedMs: config.cache.unusedMs, expiryOfflineMs: config.cache.offlineMs },
    api,
    tls: {
      certFile: tls.cert,
      keyFile: tls.key,
      ...(tls.password !== undefined ? { password: tls.password } : {}),
      ...(tls.ca !== undefined ? { caFile: tls.ca } : {}),
      auth: tls.auth,
      ...(tls.proxy ? { proxy: { identities: [...tls.proxy.identities], ...(tls.proxy.header ? { header: tls.proxy.header } : {}) } } : {}),
    },
    log: { error: config.log.error, audit: config.log.audit },
    keys: config.keys.map((k) => ({ name: k.name })),
    address: config.address ?? '0.0.0.0:7373',
  };
}
