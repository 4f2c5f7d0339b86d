// Runs one test server process: spawn with output to a log file, wait until it is
// ready (or dies), and stop it by PID (SIGTERM, then SIGKILL after 5 s; a stopped
// (SIGSTOP) process is resumed first so that it can exit).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { cacheDir, waitUntil } from './venv.js';

export interface ServiceSpec {
  /** Name used in messages, e.g. `moto_server`. */
  readonly name: string;
  readonly bin: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Log file (truncated at start), under .cache/. */
  readonly logFile: string;
  /** Resolves true once the server answers. */
  readonly ready: () => Promise<boolean>;
  readonly startTimeoutMs: number;
}

/** Starts the service; resolves with its `stop()` or the reason it could not start. */
export async function startService(spec: ServiceSpec): Promise<{ stop: () => Promise<void>; pid: number } | { error: string }> {
  if (!existsSync(spec.bin)) return { error: `${spec.bin} not found (not installed in the test venv)` };
  mkdirSync(cacheDir, { recursive: true });
  const log = openSync(spec.logFile, 'w');
  const child = spawn(spec.bin, [...spec.args], { stdio: ['ignore', log, log], env: spec.env });
  closeSync(log);

  let exited = child.exitCode !== null;
  const exit = new Promise<void>((resolve) => {
    const done = (): void => {
      exited = true;
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
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
    kill('SIGCONT');
    kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) kill('SIGKILL');
    }, 5_000);
    await exit;
    clearTimeout(timer);
  };

  try {
    const ready = waitUntil(async () => !exited && (await spec.ready()), spec.startTimeoutMs, spec.name);
    // A server that dies during start-up fails at once instead of after the timeout.
    const died = exit.then(() => {
      throw new Error(`${spec.name} exited during start-up (code ${String(child.exitCode)})`);
    });
    died.catch(() => undefined);
    ready.catch(() => undefined);
    await Promise.race([ready, died]);
  } catch (err) {
    await stop();
    return { error: `${(err as Error).message} (see ${spec.logFile})` };
  }
  // The PID lets fault tests stop (SIGSTOP), resume or kill the server themselves.
  return { stop, pid: child.pid ?? 0 };
}
