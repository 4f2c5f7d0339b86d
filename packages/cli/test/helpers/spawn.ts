// Spawning the BUILT `kes` CLI (bin/kes.js → dist/) and talking to the server it starts.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const kesBin = fileURLToPath(new URL('../../bin/kes.js', import.meta.url));

export interface KesProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout/stderr JSON record matching `pred`. */
  waitFor(pred: (rec: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited(): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Kills every child still running (call in afterAll). */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
}

export function runKes(args: string[], env: Record<string, string> = {}): KesProcess {
  const child = spawn(process.execPath, [kesBin, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  child.stdout?.on('data', (c: Buffer) => ((out += c.toString()), poke()));
  child.stderr?.on('data', (c: Buffer) => ((err += c.toString()), poke()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => (running.delete(child), poke(), resolve(code))));
  const records = (): Record<string, unknown>[] =>
    `${out}\n${err}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitFor(pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = records().find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(hit);
          } else if (child.exitCode !== null) {
            waiters.delete(check);
            clearTimeout(t);
            reject(new Error(`kes exited (${child.exitCode}) before the expected record.\nstdout:\n${out}\nstderr:\n${err}`));
          }
        };
        const t = setTimeout(
          () => (waiters.delete(check), reject(new Error(`timeout waiting for a record.\nstdout:\n${out}\nstderr:\n${err}`))),
          timeoutMs,
        );
        waiters.add(check);
        check();
      });
    },
  };
}

/** Runs the CLI to completion. */
export async function runKesOnce(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = runKes(args, env);
  const code = await p.exited();
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** One HTTPS request with a client certificate; the server certificate is not verified (self-signed). */
export function call(
  url: string,
  method: string,
  path: string,
  client: { certificatePem: string; privateKeyPem: string },
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, url),
      { method, cert: client.certificatePem, key: client.privateKeyPem, rejectUnauthorized: false, agent: false },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
