import { execFileSync } from 'node:child_process';
import { defineConfig } from 'tsup';
import { baseConfig } from '../../tsup.base.ts';

/** The commit being built, for `/version` and `kes --version`; empty outside a git checkout. */
function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

// Entries: the package API (`.`), the config library (`./config`) and `cli`, the
// launcher's entry (bin/kes.js), which holds `main` only so that starting the CLI
// does not load the config loader or the server before a command needs them.
// Code splitting (on in the base config) makes each command's implementation, loaded
// with `await import()`, its own chunk, so `kes identity` never loads the server.
export default defineConfig(
  baseConfig({ index: 'src/index.ts', config: 'src/config/index.ts', cli: 'src/main.ts' }, { define: { KES_COMMIT: JSON.stringify(gitCommit()) } }),
);
