// `npm run dev`: install and build (if needed), then start `kes server --dev`.
import { spawn } from 'node:child_process';
import { build, ensureInstalled, root } from './bootstrap.mjs';

ensureInstalled();
build();
const child = spawn(process.execPath, [`${root}/packages/cli/bin/kes.js`, 'server', '--dev', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
