// Public API of the `kes` CLI package: the CLI entry and the config loader, so apps
// can reuse the config format. Exports are listed by name.
export { main, EXIT } from './main.js';
export { loadConfig, parseConfig, parseLogLevel, checkAddress } from './config/load.js';
export type {
  KesConfig,
  ConfigOverrides,
  ParseConfigOptions,
  ConfigPolicy,
  ConfigLogLevel,
  KeyStoreSettings,
  VaultSettings,
  AwsSettings,
} from './config/load.js';
export { configToServerOptions, keyStoreConfigOf, describeKeyStore } from './config/to-options.js';
export type { ConfigToServerOptionsOptions } from './config/to-options.js';
export { migrateLegacyConfig } from './config/legacy.js';
export type { LegacyMigrationResult } from './config/legacy.js';
export { ConfigError, isConfigError } from './config/config-error.js';
export { CONFIG_SCHEMA, API_ROUTES } from './config/schema.js';
export { VERSION } from './version.js';
