// `npm test`: install (if needed), build if a source changed since the last build (the
// CLI end-to-end tests spawn the built `kes`), then run the whole vitest suite. Extra arguments go to vitest,
// e.g. `npm test -- packages/core`.
import { spawnSync } from 'node:child_process';
import { buildIfChanged, ensureInstalled, root } from './bootstrap.mjs';

ensureInstalled();
if (!process.env.KES_TEST_SKIP_BUILD) buildIfChanged();
const r = spawnSync(`${root}/node_modules/.bin/vitest`, ['run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
