// Public API of `@kes/cli/config`: the KES config file as a library, for the CLI and
// for any app that embeds the server without yargs. Loading a file yields the
// server's own option types (`KesServerOptions` fields, the registry's
// `KeyStoreConfig`), so the result goes straight to `createKesServer()`.
// Exports are listed by name.

// Loading (./load.ts)
export { loadConfigFile, parseConfigText } from './load.js';
export type {
  LoadedConfig,
  ConfigServerOptions,
  ConfigKeyStore,
  UnsupportedKeyStoreConfig,
  LoadConfigOptions,
  ParseConfigOptions,
  ConfigOverrides,
} from './types.js';

// The key store a config selects (./keystores/index.ts)
export { openKeyStore, describeKeyStore } from './keystores/index.js';

// Errors (./config-error.ts)
export { ConfigError, isConfigError } from './config-error.js';

// The file format (./schema.ts), e.g. for editor validation
export { CONFIG_SCHEMA } from './schema.js';
