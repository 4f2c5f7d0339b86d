/**
 * The backend registry: turns a key-store config (`{ type: 'fs', options }`) into
 * a store. Each backend module is imported only when its type is selected, so a
 * filesystem user never loads the Vault client or the AWS SDK.
 */
import { KesError } from '@kes/core';
import type { KeyStore } from '@kes/core';
import type { AwsKeyStoreOptions } from './aws.js';
import type { AzureKeyStoreOptions } from './azure.js';
import type { EntrustKeyStoreOptions } from './entrust.js';
import type { FortanixKeyStoreOptions } from './fortanix.js';
import type { FsKeyStoreOptions } from './fs.js';
import type { GcpKeyStoreOptions } from './gcp.js';
import type { GemaltoKeyStoreOptions } from './gemalto.js';
import type { MemoryKeyStoreOptions } from './memory.js';
import type { VaultKeyStoreOptions } from './vault.js';

/** Selects a built-in backend and its options. */
export type KeyStoreConfig =
  | { readonly type: 'memory'; readonly options?: MemoryKeyStoreOptions }
  | { readonly type: 'fs'; readonly options: FsKeyStoreOptions }
  | { readonly type: 'vault'; readonly options: VaultKeyStoreOptions }
  | { readonly type: 'aws'; readonly options: AwsKeyStoreOptions }
  | { readonly type: 'gcp'; readonly options: GcpKeyStoreOptions }
  | { readonly type: 'azure'; readonly options: AzureKeyStoreOptions }
  | { readonly type: 'gemalto'; readonly options: GemaltoKeyStoreOptions }
  | { readonly type: 'fortanix'; readonly options: FortanixKeyStoreOptions }
  | { readonly type: 'entrust'; readonly options: EntrustKeyStoreOptions };

/** Selects a backend registered with {@link registerKeyStore}. */
export interface CustomKeyStoreConfig {
  readonly type: string;
  readonly options?: unknown;
}

/** Turns options into a store; may import its implementation lazily. */
export type KeyStoreLoader<O = unknown> = (options: O) => KeyStore | Promise<KeyStore>;

type Factory = (options: unknown) => KeyStore | Promise<KeyStore>;

// Each backend module is imported only when its type is selected: importing the
// registry must not load the Vault client or the AWS SDK.
const BUILT_IN: Readonly<Record<KeyStoreConfig['type'], Factory>> = {
  memory: async (o) => (await import('./memory.js')).createMemoryKeyStore((o ?? {}) as MemoryKeyStoreOptions),
  fs: async (o) => (await import('./fs.js')).createFsKeyStore(o as FsKeyStoreOptions),
  vault: async (o) => (await import('./vault.js')).createVaultKeyStore(o as VaultKeyStoreOptions),
  aws: async (o) => (await import('./aws.js')).createAwsKeyStore(o as AwsKeyStoreOptions),
  gcp: async (o) => (await import('./gcp.js')).createGcpKeyStore(o as GcpKeyStoreOptions),
  azure: async (o) => (await import('./azure.js')).createAzureKeyStore(o as AzureKeyStoreOptions),
  gemalto: async (o) => (await import('./gemalto.js')).createGemaltoKeyStore(o as GemaltoKeyStoreOptions),
  fortanix: async (o) => (await import('./fortanix.js')).createFortanixKeyStore(o as FortanixKeyStoreOptions),
  entrust: async (o) => (await import('./entrust.js')).createEntrustKeyStore(o as EntrustKeyStoreOptions),
};

const custom = new Map<string, Factory>();

const TYPE = /^[a-z][a-z0-9._-]{0,63}$/;

/**
 * Registers a third-party backend under `type`, for {@link createKeyStore}.
 * The loader should `await import()` heavy dependencies itself.
 *
 * @throws ERR_KES_INVALID_ARGUMENT if `type` is not a lower-case identifier
 *   (`[a-z][a-z0-9._-]*`, at most 64 characters), is a built-in type or is
 *   already registered
 * @example
 * registerKeyStore('etcd', async (options: EtcdOptions) => (await import('./etcd.js')).createEtcdKeyStore(options));
 */
export function registerKeyStore<O>(type: string, loader: KeyStoreLoader<O>): void {
  if (typeof type !== 'string' || !TYPE.test(type)) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['key store type must match [a-z][a-z0-9._-]* (at most 64 characters)']);
  }
  if (typeof loader !== 'function') {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`key store type '${type}': loader must be a function`]);
  }
  if (Object.hasOwn(BUILT_IN, type) || custom.has(type)) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`key store type '${type}' is already registered`]);
  }
  custom.set(type, loader as Factory);
}

/**
 * The key-store types {@link createKeyStore} accepts: the built-in ones, then
 * the registered ones in registration order.
 *
 * @example
 * keyStoreTypes(); // ['memory', 'fs', 'vault', 'aws', 'gcp', 'azure', 'gemalto', 'fortanix', 'entrust']
 */
export function keyStoreTypes(): string[] {
  return [...Object.keys(BUILT_IN), ...custom.keys()];
}

/**
 * Creates the key store a config selects, importing only that backend.
 *
 * @throws ERR_KES_INVALID_ARGUMENT for an unknown type (the message lists the
 *   known ones), plus whatever the backend's factory throws for bad options
 * @example
 * const store = await createKeyStore({ type: 'fs', options: { path: '/var/lib/kes/keys' } });
 */
export async function createKeyStore(config: KeyStoreConfig): Promise<KeyStore>;
export async function createKeyStore(config: CustomKeyStoreConfig): Promise<KeyStore>;
export async function createKeyStore(config: KeyStoreConfig | CustomKeyStoreConfig): Promise<KeyStore> {
  const type = (config as Partial<CustomKeyStoreConfig> | undefined)?.type;
  const factory = typeof type !== 'string' ? undefined : Object.hasOwn(BUILT_IN, type) ? BUILT_IN[type as KeyStoreConfig['type']] : custom.get(type);
  if (!factory) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`unknown key store type '${String(type)}' (known: ${keyStoreTypes().join(', ')})`]);
  }
  return await factory(config.options);
}
