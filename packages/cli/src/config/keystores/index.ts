// The `keystore:` section: which backend a file selects (exactly one), its checks
// (one module per backend), and opening it through the `@kes/keystores` registry.
import type { KeyStore } from '@kes/core';
import { createKeyStore, keyStoreTypes } from '@kes/keystores';
import { ConfigError } from '../config-error.js';
import type { ConfigKeyStore } from '../types.js';
import { isMap } from '../values.js';
import type { CheckContext } from '../values.js';
import { awsSection } from './aws.js';
import { azureSection } from './azure.js';
import { entrustSection } from './entrust.js';
import { fortanixSection } from './fortanix.js';
import { fsSection } from './fs.js';
import { gcpSection } from './gcp.js';
import { gemaltoSection } from './gemalto.js';
import { memorySection } from './memory.js';
import type { KeyStoreSection } from './section.js';
import { genericSection, kesSection } from './unsupported.js';
import { vaultSection } from './vault.js';

/** Every section `keystore:` accepts, in the order messages and hints list them. */
export const KEY_STORE_SECTIONS: readonly KeyStoreSection[] = [
  fsSection,
  vaultSection,
  awsSection,
  gcpSection,
  azureSection,
  gemaltoSection,
  fortanixSection,
  entrustSection,
  kesSection,
  genericSection,
  memorySection,
];

const BY_NAME: ReadonlyMap<string, KeyStoreSection> = new Map(KEY_STORE_SECTIONS.map((s) => [s.name, s]));

/** The section called `name` under `keystore:`, if there is one. */
export function keyStoreSection(name: string): KeyStoreSection | undefined {
  return BY_NAME.get(name);
}

/** The sections this build can open: read by the loader and known to the key-store registry. */
function supportedSections(): string[] {
  const types = keyStoreTypes();
  return KEY_STORE_SECTIONS.filter((s) => s.read !== undefined && types.includes(s.name)).map((s) => s.name);
}

const NO_KEY_STORE =
  'no key store is configured: add one (e.g. keystore: {fs: {path: ./keys}}); for a throw-away store whose keys are lost on exit use `keystore: {memory: {}}` explicitly, or `kes server --dev`';

/** The result of {@link checkKeyStore}. */
export interface KeyStoreSelection {
  readonly keyStore: ConfigKeyStore;
  /** No store was configured and the in-memory one was taken (`implicitMemoryStore`). */
  readonly implicit: boolean;
}

/**
 * Finds the one configured key store and checks its section. Eras up to v0.22 list
 * every backend; a section without its inner mapping (`aws: {}`) selects nothing.
 *
 * @returns the selection, or `undefined` after adding a problem.
 */
export function checkKeyStore(ctx: CheckContext, implicitMemoryStore: boolean): KeyStoreSelection | undefined {
  const ks = isMap(ctx.doc.keystore) ? ctx.doc.keystore : undefined;
  const selected: KeyStoreSection[] = [];
  for (const section of ks ? KEY_STORE_SECTIONS : []) {
    const value = ks?.[section.name];
    if (value === undefined) continue;
    const { inner } = section;
    if (inner === undefined ? value !== null : isMap(value) && value[inner] !== undefined) selected.push(section);
    else if (inner !== undefined && isMap(value)) ctx.warnings.push(`keystore.${section.name}: has no '${inner}' section, ignored`);
  }
  if (selected.length === 0) {
    if (implicitMemoryStore) return { keyStore: { type: 'memory' }, implicit: true };
    // No silent in-memory fallback (upstream HEAD refuses too): a missing or misspelled
    // section would otherwise start a server whose keys are all gone after a restart.
    ctx.problems.push({ path: ['keystore'], message: NO_KEY_STORE });
    return undefined;
  }
  if (selected.length > 1) {
    ctx.problems.push({
      path: ['keystore'],
      message: `more than one key store is configured (${selected.map((s) => s.name).join(', ')}): keep exactly one`,
    });
    return undefined;
  }
  const section = selected[0] as KeyStoreSection;
  if (!section.read) return { keyStore: { type: 'unsupported', name: section.name }, implicit: false };
  const value = ks?.[section.name];
  const target = section.inner === undefined ? value : isMap(value) ? value[section.inner] : undefined;
  // Not a mapping: the schema check has reported it already.
  if (!isMap(target)) return undefined;
  const path = ['keystore', section.name, ...(section.inner === undefined ? [] : [section.inner])];
  return { keyStore: section.read(target, ctx, path), implicit: false };
}

/**
 * Where a key store is configured, for messages: `fs`, `vault`, `aws.secretsmanager`.
 *
 * @example
 * keyStoreSectionPath({ type: 'aws', options }); // 'aws.secretsmanager'
 */
export function keyStoreSectionPath(keyStore: ConfigKeyStore): string {
  if (keyStore.type === 'unsupported') return keyStore.name;
  const inner = keyStoreSection(keyStore.type)?.inner;
  return inner === undefined ? keyStore.type : `${keyStore.type}.${inner}`;
}

/**
 * Opens the key store a config selects (only that backend's module is loaded).
 *
 * @param config - a loaded config, or just its `file` (for messages) and `keyStore`.
 * @param hooks - `onWarning`: where a store's warnings go (the fs store's directory-mode fix);
 *   without it, Node's process warnings.
 * @throws `ERR_KES_INVALID_CONFIG` ({@link ConfigError}) for a backend kes-ts cannot run
 *   (`kes`, `generic`: removed upstream); `ERR_KES_INVALID_ARGUMENT` for options the backend refuses.
 * @example
 * const config = await loadConfigFile('kes.yml', { env: process.env });
 * const server = await createKesServer({ ...config.options, keyStore: await openKeyStore(config) });
 */
export async function openKeyStore(
  config: { readonly file?: string; readonly keyStore: ConfigKeyStore },
  hooks: { readonly onWarning?: (message: string) => void } = {},
): Promise<KeyStore> {
  const ks = config.keyStore;
  if (ks.type === 'unsupported') {
    const file = config.file || 'config';
    throw new ConfigError([
      `${file}: keystore.${ks.name}: key store '${ks.name}' was removed in upstream KES v0.23 and is not supported by kes-ts (supported: ${supportedSections().join(', ')})`,
    ]);
  }
  // The fs store reports fixing a too-open key directory; the server log should carry it.
  if (ks.type === 'fs' && hooks.onWarning !== undefined) return createKeyStore({ ...ks, options: { ...ks.options, onWarning: hooks.onWarning } });
  return createKeyStore(ks);
}

/**
 * One line describing a key store, for a start-up banner (`Filesystem: /var/kes`).
 * Names the endpoint or path, never a credential.
 *
 * @example
 * describeKeyStore({ type: 'fs', options: { path: '/var/kes' } }); // 'Filesystem: /var/kes'
 */
export function describeKeyStore(keyStore: ConfigKeyStore): string {
  switch (keyStore.type) {
    case 'memory':
      return 'In Memory (keys are NOT persisted)';
    case 'fs':
      return `Filesystem: ${keyStore.options.path}`;
    case 'vault':
      return `Hashicorp Vault: ${keyStore.options.endpoint}`;
    case 'aws':
      return `AWS SecretsManager: ${keyStore.options.endpoint}`;
    case 'gcp':
      return `GCP SecretManager: Project=${keyStore.options.projectId}`;
    case 'azure':
      return `Azure KeyVault: ${keyStore.options.endpoint}`;
    case 'gemalto':
      return `Gemalto KeySecure: ${keyStore.options.endpoint}`;
    case 'fortanix':
      return `Fortanix SDKMS: ${keyStore.options.endpoint}`;
    case 'entrust':
      return `Entrust KeyControl: ${keyStore.options.endpoint}`;
    case 'unsupported':
      return keyStore.name;
  }
}
