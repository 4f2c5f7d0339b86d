// `npm run test:faults`: the fault-injection suites of issue 13 in full (docs/reliability.md).
// Builds if a source changed (the CLI suites spawn the built `kes`), then runs every
// `faults-*.test.ts` with KES_FAULTS=1, which un-skips the slow parts (`kes server` SIGKILLed
// during 1,000 creates, a worker killed under load, moto killed and restarted). `npm test`
// runs the fast parts of the same files. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process';
import { buildIfChanged, ensureInstalled, root } from './bootstrap.mjs';

ensureInstalled();
if (!process.env.KES_TEST_SKIP_BUILD) buildIfChanged();
const files = ['packages/server/test/faults-', 'packages/cli/test/faults-'];
const r = spawnSync(`${root}/node_modules/.bin/vitest`, ['run', ...files, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, KES_FAULTS: '1' },
});
process.exit(r.status ?? 1);
