// Installs the workspace with the pinned pnpm when node_modules is missing or stale.
// Used by `npm test` and `npm run dev` so that a fresh machine needs only Node 20 and npm.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const PNPM = ['-y', 'pnpm@12.4.2'];

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
