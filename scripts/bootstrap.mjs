// Installs the workspace with the pinned pnpm when node_modules is missing or stale, and
// builds the packages when their sources changed since the last build.
// Used by `npm test`, `npm run dev` and `.ci/run`, so that a fresh machine needs only
// Node 20 and npm. Run directly (`npm run setup`), it installs and builds.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** The packages that `pnpm build` builds (every directory under packages/). */
function packageDirs(base) {
  const dir = join(base, 'packages');
  return existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => join(dir, d.name))
    : [];
}

function walk(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    if (entry.isDirectory()) walk(file, out);
    // Tests are not part of the build: editing one must not trigger a rebuild.
    else if (!entry.name.endsWith('.test.ts')) out.push(file);
  }
}

/**
 * A fingerprint of every input of the build: path, size and modification time of each
 * package's sources, manifest and build config, and of the shared configs and the lock
 * file. Reading metadata only keeps it fast (a few ms); a deleted file changes it too.
 */
export function buildInputsHash(base = root) {
  const files = ['package.json', 'pnpm-lock.yaml', 'tsup.base.ts', 'tsconfig.base.json'].map((f) => join(base, f));
  for (const pkg of packageDirs(base)) {
    for (const f of ['package.json', 'tsup.config.ts', 'tsconfig.json']) files.push(join(pkg, f));
    if (existsSync(join(pkg, 'src'))) walk(join(pkg, 'src'), files);
  }
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    const st = existsSync(file) ? statSync(file) : undefined;
    hash.update(`${file.slice(base.length)}\0${st ? `${st.size}\0${st.mtimeMs}` : '-'}\n`);
  }
  return hash.digest('hex');
}

/** Where the fingerprint of the last successful build is kept (git-ignored). */
export const stampFile = (base = root) => join(base, '.cache', 'build-stamp');

/** True when every package has a build and no input changed since the build that wrote the stamp. */
export function buildIsCurrent(base = root) {
  if (!packageDirs(base).every((pkg) => existsSync(join(pkg, 'dist', 'index.js')))) return false;
  const stamp = stampFile(base);
  return existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === buildInputsHash(base);
}

/**
 * Builds every package and records the fingerprint of the inputs, taken before the build
 * starts: a file edited while tsup runs makes the next check see a change.
 */
export function build() {
  const inputs = buildInputsHash();
  run('npx', [...PNPM, 'run', 'build']);
  mkdirSync(join(root, '.cache'), { recursive: true });
  writeFileSync(stampFile(), `${inputs}\n`);
}

/** `build()` unless the last build is current; says which. */
export function buildIfChanged() {
  if (buildIsCurrent()) {
    process.stderr.write('build is up to date (no source changed since the last build)\n');
    return;
  }
  build();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureInstalled();
  build();
}
