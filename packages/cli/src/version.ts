// The CLI's version is the one in package.json: the bundler inlines the import at
// build time, so the built CLI reads no file to report it.
import pkg from '../package.json' with { type: 'json' };

/** The kes-ts CLI version (`kes --version`, the start-up banner), from package.json. */
export const VERSION: string = pkg.version;
