// Global test setup: installs (once) and starts the real key-store servers the
// keystore tests run against, on loopback and free ports, and stops them by PID.
// Each server module returns the values tests read with `inject()`.
import type { TestProject } from 'vitest/node';
import { ensureVenv } from './servers/venv.js';
import { startOpenBao } from './servers/openbao.js';
import { startMoto } from './servers/moto.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the OpenBao dev server, or '' if it could not start. */
    baoAddr: string;
    baoToken: string;
    /** Why OpenBao is not available (printed by skipped tests). */
    baoSkipReason: string;
    /** Base URL of the moto server, or '' if it could not start. */
    motoEndpoint: string;
    motoSkipReason: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  const venvProblem = ensureVenv();

  const bao = venvProblem ? { error: venvProblem } : await startOpenBao().catch((e: Error) => ({ error: e.message }));
  if ('stop' in bao) stops.push(bao.stop);
  project.provide('baoAddr', 'addr' in bao ? bao.addr : '');
  project.provide('baoToken', 'token' in bao ? bao.token : '');
  project.provide('baoSkipReason', 'error' in bao ? bao.error : '');

  const moto = venvProblem ? { error: venvProblem } : await startMoto().catch((e: Error) => ({ error: e.message }));
  if ('stop' in moto) stops.push(moto.stop);
  project.provide('motoEndpoint', 'endpoint' in moto ? moto.endpoint : '');
  project.provide('motoSkipReason', 'error' in moto ? moto.error : '');

  for (const [name, r] of [
    ['OpenBao', bao],
    ['moto', moto],
  ] as const) {
    if ('error' in r) process.stderr.write(`\n[kes tests] ${name} is NOT available, its tests will be skipped: ${r.error}\n`);
  }
  return async () => {
    await Promise.all(stops.map((s) => s()));
  };
}
