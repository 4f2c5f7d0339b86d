// Installs the workspace with the pinned pnpm when node_modules is missing or stale.
// Used by `npm test`, `npm run dev` and `.ci/run`, so that a fresh machine needs only
// Node 20 and npm. Run directly (`npm run setup`), it installs and builds.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The pnpm to run, from the one place its version is written: `packageManager` in the
 * root package.json (`pnpm@X.Y.Z`, possibly followed by `+sha512.…`, which npx does
 * not understand).
 */
export const PNPM_SPEC = (() => {
  const { packageManager } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
  const spec = typeof packageManager === 'string' ? packageManager.split('+')[0] : '';
  if (!/^pnpm@\d+\.\d+\.\d+$/.test(spec)) throw new Error(`bootstrap: package.json packageManager must be pnpm@X.Y.Z, got '${packageManager}'`);
  return spec;
})();
export const PNPM = ['-y', PNPM_SPEC];

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    process.stderr.write(`bootstrap: '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

function stale() {
  const marker = `${root}/node_modules/.modules.yaml`;
  if (!existsSync(marker)) return true;
  return statSync(`${root}/pnpm-lock.yaml`).mtimeMs > statSync(marker).mtimeMs;
}

export function ensureInstalled() {
  if (stale()) run('npx', [...PNPM, 'install', '--frozen-lockfile']);
}

export function build() {
  run('npx', [...PNPM, 'run', 'build']);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureInstalled();
  build();
}
