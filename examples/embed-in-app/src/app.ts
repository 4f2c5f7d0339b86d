/**
 * An HTTP app that embeds a KES server. One process serves
 *
 * - KES on its own mTLS port, for KES clients (MinIO, `kes`, `@kes/client`), and
 * - the app's own HTTP API, here a health endpoint that asks the embedded KES in
 *   process (no TLS hop to itself) whether its key store is reachable.
 *
 * One `close()` stops both, letting requests in flight finish.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyStore } from '@kes/core';
import { createKesServer } from '@kes/server';
import type { KesServer } from '@kes/server';

/** Options of {@link startApp}. */
export interface AppOptions {
  /** Identity with full access to KES (`kes identity of <api key>`). */
  readonly admin: string;
  readonly keyStore: KeyStore;
  /** KES server certificate and key (PEM). */
  readonly tls: { readonly cert: string; readonly key: string };
  /** Keys that must exist; created at start if missing. */
  readonly keys?: readonly string[];
  /** Where to listen; port 0 = any free port. Default 127.0.0.1, KES 7373, app 8080. */
  readonly host?: string;
  readonly kesPort?: number;
  readonly appPort?: number;
}

/** A running app. */
export interface App {
  /** `https://host:port` of the embedded KES server. */
  readonly kesUrl: string;
  /** `http://host:port` of the app's own API. */
  readonly appUrl: string;
  readonly kes: KesServer;
  close(): Promise<void>;
}

/**
 * Starts the embedded KES server, then the app's HTTP API.
 *
 * @example
 * const app = await startApp({ admin, keyStore: createFsKeyStore({ path: './keys' }), tls });
 * console.log(`KES on ${app.kesUrl}, app on ${app.appUrl}`);
 */
export async function startApp(options: AppOptions): Promise<App> {
  const host = options.host ?? '127.0.0.1';
  const kes = await createKesServer({
    admin: options.admin,
    keyStore: options.keyStore,
    tls: { cert: options.tls.cert, key: options.tls.key },
    keys: (options.keys ?? []).map((name) => ({ name })),
  });
  await kes.listen(options.kesPort ?? 7373, host);

  const api: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      // In process, as the admin: the same check a load balancer would make on /v1/ready.
      kes.handler.inject({ method: 'GET', path: '/v1/ready', identity: options.admin }).then(
        (ready) => {
          res.writeHead(ready.status === 200 ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kes: ready.status === 200 ? 'ok' : 'unavailable' }));
        },
        () => {
          res.writeHead(503).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    api.once('error', reject);
    api.listen(options.appPort ?? 8080, host, () => resolve());
  });
  const { port: appPort } = api.address() as AddressInfo;

  return {
    kesUrl: kes.url,
    appUrl: `http://${host}:${appPort}`,
    kes,
    async close() {
      await Promise.all([new Promise<void>((resolve) => api.close(() => resolve())), kes.close({ timeoutMs: 5_000 })]);
    },
  };
}
