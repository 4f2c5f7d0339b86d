// Starts a real OpenBao dev server (from the git-ignored venv, see venv.ts) on a free
// loopback port with a random root token, for the Vault key-store tests. Its output
// goes to .cache/openbao-<port>.log for debugging; stop() kills it by PID.
import { randomBytes } from 'node:crypto';
import { startService } from './service.js';
import { cacheDir, freePort, venvBin } from './venv.js';

/** Options of {@link startOpenBao}: a fault test restarts a killed server on the same port with the same token. */
export interface OpenBaoOptions {
  readonly port?: number;
  readonly token?: string;
}

/** Starts `bao server -dev`; resolves with its address, root token and PID, or the reason it could not start. */
export async function startOpenBao(
  options: OpenBaoOptions = {},
): Promise<{ addr: string; token: string; pid: number; stop: () => Promise<void> } | { error: string }> {
  const port = options.port ?? (await freePort());
  const token = options.token ?? `root-${randomBytes(12).toString('hex')}`;
  const addr = `http://127.0.0.1:${port}`;
  const started = await startService({
    name: 'OpenBao dev server',
    bin: `${venvBin}/bao`,
    args: ['server', '-dev', `-dev-root-token-id=${token}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'],
    // Do not let the developer's own Vault settings leak into the test server.
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cacheDir },
    logFile: `${cacheDir}/openbao-${port}.log`,
    ready: async () => {
      const res = await fetch(`${addr}/v1/sys/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.status !== 200) return false;
      const body = (await res.json()) as { initialized?: boolean; sealed?: boolean };
      return body.initialized === true && body.sealed === false;
    },
    startTimeoutMs: 30_000,
  });
  return 'error' in started ? started : { addr, token, pid: started.pid, stop: started.stop };
}
