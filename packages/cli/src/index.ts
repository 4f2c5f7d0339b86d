// Public API of the `kes` CLI package: the CLI entry and its version. The config
// file as a library lives in the `@kes/cli/config` subpath. Exports are listed by name.
export { main, EXIT } from './main.js';
export { VERSION } from './version.js';
export { ConfigError, isConfigError } from './config/config-error.js';
