// Starts a real moto server (AWS Secrets Manager + KMS emulator, from the test
// venv) on a free loopback port for the AWS key-store tests, and stops it by PID.
import { startService } from './service.js';
import { cacheDir, freePort, venvBin } from './venv.js';

/** Options of {@link startMoto}. */
export interface MotoOptions {
  /** Extra environment, e.g. `INITIAL_NO_AUTH_ACTION_COUNT: '0'` to make moto check credentials. */
  readonly env?: Record<string, string>;
  /** Log file name below `.cache/` (default `moto.log`). */
  readonly logName?: string;
  /** Port to listen on (default: a free one); a fault test restarts a killed server on the same port. */
  readonly port?: number;
}

/**
 * Starts `moto_server -H 127.0.0.1 -p <free port>`, waits until `/moto-api/`
 * answers and returns its endpoint, or the reason it could not start.
 * Its output goes to `.cache/moto.log` (or `options.logName`).
 */
export async function startMoto(
  options: MotoOptions = {},
): Promise<{ endpoint: string; pid: number; stop: () => Promise<void> } | { error: string }> {
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const started = await startService({
    name: options.env === undefined ? 'moto_server' : 'moto_server (custom environment)',
    bin: `${venvBin}/moto_server`,
    args: ['-H', '127.0.0.1', '-p', String(port)],
    // Moto needs no credentials; make sure nothing from the caller's AWS setup leaks in.
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', ...options.env },
    logFile: `${cacheDir}/${options.logName ?? 'moto.log'}`,
    ready: async () => {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.ok;
    },
    // Cold Python imports can take a while on the first start.
    startTimeoutMs: 60_000,
  });
  return 'error' in started ? started : { endpoint, pid: started.pid, stop: started.stop };
}
