// Public API of @kes/keystores. Exports are listed by name; internals live in src/internal/.
// Backends with heavy dependencies (vault, aws, and the cloud/appliance stores) are reached through createKeyStore or
// their own subpath (`@kes/keystores/vault`, `@kes/keystores/aws`), never imported here.

// In-memory reference store (./memory.ts)
export { createMemoryKeyStore } from './memory.js';
export type { MemoryKeyStoreOptions } from './memory.js';

// Filesystem store (./fs.ts)
export { createFsKeyStore } from './fs.js';
export type { FsKeyStoreOptions } from './fs.js';

// Registry (./registry.ts)
export { createKeyStore, registerKeyStore, keyStoreTypes } from './registry.js';
export type { KeyStoreConfig, CustomKeyStoreConfig, KeyStoreLoader } from './registry.js';

// Option types of the lazily loaded backends (type-only: importing them loads nothing).
export type { VaultKeyStoreOptions } from './vault.js';
export type { AwsKeyStoreOptions } from './aws.js';
export type { GcpKeyStoreOptions } from './gcp.js';
export type { AzureKeyStoreOptions } from './azure.js';
export type { GemaltoKeyStoreOptions } from './gemalto.js';
export type { FortanixKeyStoreOptions } from './fortanix.js';
export type { EntrustKeyStoreOptions } from './entrust.js';
