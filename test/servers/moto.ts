// Starts a real moto server (AWS Secrets Manager + KMS emulator, from the test
// venv) on a free loopback port for the AWS key-store tests, and stops it by PID.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { cacheDir, freePort, venvBin, waitUntil } from './venv.js';

/** How long moto may take to answer its first request (cold Python imports). */
const START_TIMEOUT_MS = 60_000;

/**
 * Starts `moto_server -H 127.0.0.1 -p <free port>`, waits until `/moto-api/`
 * answers and returns its endpoint, or the reason it could not start.
 * Its output goes to `.cache/moto.log`.
 */
export async function startMoto(): Promise<{ endpoint: string; stop: () => Promise<void> } | { error: string }> {
  const bin = `${venvBin}/moto_server`;
  if (!existsSync(bin)) return { error: `${bin} not found (moto is not installed in the test venv)` };
  mkdirSync(cacheDir, { recursive: true });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const logPath = `${cacheDir}/moto.log`;
  // One log per run (truncated), so it does not grow across runs.
  const log = openSync(logPath, 'w');
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', log, log],
    // Moto needs no credentials; make sure nothing from the caller's AWS setup leaks in.
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1' },
  });
  closeSync(log);

  let exited = child.exitCode !== null;
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
    const pid = child.pid;
    const kill = (signal: NodeJS.Signals): void => {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    };
    kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) kill('SIGKILL');
    }, 5_000);
    await exit;
    clearTimeout(timer);
  };

  try {
    const ready = waitUntil(
      async () => {
        if (exited) return false;
        const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return res.ok;
      },
      START_TIMEOUT_MS,
      'moto_server',
    );
    // A server that dies during start-up fails at once instead of after the timeout.
    const died = exit.then(() => {
      throw new Error(`moto_server exited during start-up (code ${String(child.exitCode)})`);
    });
    died.catch(() => undefined);
    ready.catch(() => undefined);
    await Promise.race([ready, died]);
  } catch (err) {
    await stop();
    return { error: `${(err as Error).message} (see ${logPath})` };
  }
  return { endpoint, stop };
}
