// `npm test`: install (if needed), then run the whole vitest suite.
// Extra arguments are passed to vitest, e.g. `npm test -- packages/core`.
import { spawnSync } from 'node:child_process';
import { ensureInstalled, root } from './bootstrap.mjs';

ensureInstalled();
const r = spawnSync(`${root}/node_modules/.bin/vitest`, ['run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
