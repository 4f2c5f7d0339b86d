// Shared by the fault tests (faults-*.test.ts): a keep-alive mTLS client that reports a
// torn-down connection as a result instead of throwing, and small polling helpers.
import { Agent, request } from 'node:https';

/** One reply, or the transport error when the connection closed without a status. */
export interface CallResult {
  readonly status: number;
  readonly body: string;
  /** Set when no HTTP status arrived (reset, route timeout tore the response down). */
  readonly error?: string;
  /** Wall-clock milliseconds the call took. */
  readonly ms: number;
}

/** An mTLS client for one KES server; `agent: false` in `call` opens a fresh connection. */
export interface FaultClient {
  call(method: string, path: string, body?: string, options?: { fresh?: boolean; timeoutMs?: number }): Promise<CallResult>;
  close(): void;
}

/** Creates a client with up to `sockets` keep-alive connections to `url`. */
export function faultClient(url: string, cert: { certificatePem: string; privateKeyPem: string }, sockets = 16): FaultClient {
  const tls = { cert: cert.certificatePem, key: cert.privateKeyPem, rejectUnauthorized: false };
  const agent = new Agent({ ...tls, keepAlive: true, maxSockets: sockets });
  return {
    call(method, path, body, options = {}) {
      const started = performance.now();
      return new Promise((resolve) => {
        let done = false;
        const finish = (r: Omit<CallResult, 'ms'>): void => {
          if (done) return;
          done = true;
          resolve({ ...r, ms: performance.now() - started });
        };
        const req = request(new URL(path, url), { method, ...(options.fresh ? { ...tls, agent: false } : { agent }) }, (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => finish({ status: res.statusCode ?? 0, body: data }));
          res.on('error', (e) => finish({ status: 0, body: data, error: e.message }));
        });
        // A client-side safety net only (far above any route timeout under test): a test
        // must end even if the server never answers; such a call is reported, not hidden.
        req.setTimeout(options.timeoutMs ?? 60_000, () => req.destroy(new Error('client timeout')));
        req.on('error', (e) => finish({ status: 0, body: '', error: e.message }));
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns true; returns the elapsed ms or throws after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string, everyMs = 50): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
