// createKesServer(): the HTTPS (optionally HTTP/2) server around the KES request handler.
// Owns the transport: TLS handshake policy (spec §5.4), peer certificates per connection,
// HTTP limits (§1), certificate reloads and graceful shutdown. Everything HTTP-level
// (routing, auth, policies, logs) is the handler's job.
import type { X509Certificate } from 'node:crypto';
import { createSecureServer } from 'node:http2';
import type { Http2SecureServer, Http2Session, ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { KesError } from '@kes/core';
import { createKesHandler, logServerError } from './handler.js';
import type { KesHandler, PeerInfo } from './handler.js';
import type { ConnectionLimits, KesServerOptions } from './options.js';
import { clientAuthMode, loadTlsMaterial } from './tls.js';
import type { ClientAuthMode, TlsMaterial } from './tls.js';
import { joinHostPort, splitHostPort } from './address.js';
import { closeIfBodyUnread, closeWithConnection, hasBody, peerCertificates, resolveLimits } from './internal/connection.js';
import type { AnyRequest, AnyResponse } from './internal/http.js';

/** A running (or ready to run) KES server. */
export interface KesServer {
  /**
   * Starts listening. Defaults come from `options.address` (`host:port`), else `0.0.0.0:7373`;
   * port `0` picks a free port.
   * @throws the listen error (e.g. `EADDRINUSE`) as Node reports it.
   */
  listen(port?: number, host?: string): Promise<{ address: string; port: number }>;
  /** `https://host:port` once listening (empty string before). */
  readonly url: string;
  /** The request handler (in-process `inject()`, audit/error subscriptions). */
  readonly handler: KesHandler;
  /**
   * Re-reads the certificate, key and CA files and, when `options` are given, applies them
   * (policies, admin, routes, key store... via `handler.update`). Open connections keep
   * their TLS session; new handshakes use the new certificate. On failure nothing changes.
   * `tls.http2` cannot be switched by a reload.
   * @throws KesError `ERR_KES_INVALID_CERTIFICATE` / `ERR_KES_INVALID_ARGUMENT` (bad TLS material),
   *   or whatever `handler.update` throws.
   */
  reload(options?: KesServerOptions): Promise<void>;
  /**
   * Graceful shutdown: stops accepting connections, lets in-flight requests finish (for at most
   * `timeoutMs`, default 10 000, then destroys the remaining connections), closes idle keep-alive
   * connections, ends log streams and closes the handler and its key store. Idempotent.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

const DEFAULT_RELOAD_INTERVAL_MS = 15 * 60_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** Per-connection peer info, stored on the TLS socket (readable through HTTP/2's socket proxy too). */
const kPeer = Symbol('kes.peer');
type PeerSocket = TLSSocket & { [kPeer]?: PeerInfo };

const NO_PEER: PeerInfo = Object.freeze({ tls: false, certificates: Object.freeze([]) as readonly X509Certificate[] });

/** The `address` option (`host:port`, `[v6]:port`, `:port`), default `0.0.0.0:7373`; empty host = all interfaces. */
function parseAddress(address: string | undefined): { host: string | undefined; port: number } {
  const a = address ?? '0.0.0.0:7373';
  const { host, port } = splitHostPort(a);
  if (port === undefined || Number.isNaN(port)) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', [`invalid listen address '${a}': expected host:port`]);
  }
  return { host: host === '' ? undefined : host, port };
}

type AnyServer = HttpsServer | Http2SecureServer;

class KesServerImpl implements KesServer {
  readonly #server: AnyServer;
  readonly #handler: KesHandler;
  readonly #http2: boolean;
  readonly #limits: Required<ConnectionLimits>;
  #options: KesServerOptions;
  #mode: ClientAuthMode;
  #url = '';
  #reloadTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #sessions = new Set<Http2Session>();
  /** Responses not yet closed (each request in flight, log streams included). */
  readonly #inFlight = new Set<AnyResponse>();
  #drained: (() => void) | undefined;

  constructor(options: KesServerOptions, handler: KesHandler, material: TlsMaterial) {
    this.#options = options;
    this.#handler = handler;
    this.#http2 = options.tls?.http2 === true;
    const limits = resolveLimits(options.limits);
    this.#limits = limits;
    this.#mode = clientAuthMode(material.auth, handler.allowsAnonymousHandshake);

    // The handshake always *requests* a certificate. Only with `tls.auth: on` and no
    // skip_auth does it also *require* one (rejectUnauthorized): OpenSSL then fails a
    // handshake without a certificate with an alert ("certificate required"), as Go does,
    // and Go clients, which send no certificate the server's CA list does not name, get that
    // alert too. Node cannot express Go's "require any certificate" (self-signed, Ed25519, no
    // chain) otherwise. #acceptConnection() enforces every mode before any HTTP byte is read.
    const tlsOptions = {
      ...material.secureContext,
      requestCert: true,
      rejectUnauthorized: this.#mode === 'require-and-verify',
      // Go bounds the handshake by the header timeout; Node's default is 120 s (slowloris).
      handshakeTimeout: limits.headersTimeoutMs,
    };
    const onRequest = (req: AnyRequest, res: AnyResponse): void => this.#onRequest(req, res);
    if (this.#http2) {
      const server = createSecureServer({ ...tlsOptions, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'] }, onRequest);
      server.on('session', (session: Http2Session) => this.#onSession(session));
      this.#server = server;
    } else {
      const server = createHttpsServer(
        { ...tlsOptions, ALPNProtocols: ['http/1.1'], connectionsCheckingInterval: 1_000 } as HttpsServerOptions,
        onRequest as (req: IncomingMessage, res: ServerResponse) => void,
      );
      // Threat: slow clients holding connections (slowloris). Headers must arrive within
      // headersTimeoutMs and the whole request within requestTimeoutMs (Node answers 408 and
      // closes); the handler's per-route timeouts (spec §2) bound the handling itself.
      server.headersTimeout = limits.headersTimeoutMs;
      server.requestTimeout = limits.requestTimeoutMs;
      server.keepAliveTimeout = limits.idleTimeoutMs;
      // No socket inactivity timeout: a log stream may be quiet for long and is not idle.
      server.timeout = 0;
      this.#server = server;
    }
    // Threat: connection floods. Beyond the cap, new TCP connections are closed at accept.
    this.#server.maxConnections = limits.maxConnections;
    // Interpose on 'secureConnection' so that a rejected client never reaches the HTTP layer
    // (neither the HTTP/1 parser nor an HTTP/2 session is created for it).
    const downstream = this.#server.listeners('secureConnection') as ((s: TLSSocket) => void)[];
    this.#server.removeAllListeners('secureConnection');
    this.#server.on('secureConnection', (socket: TLSSocket) => {
      if (!this.#acceptConnection(socket)) return;
      for (const l of downstream) l.call(this.#server, socket);
    });
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    // Handshake failures are the client's problem; keep them out of the process' error path.
    this.#server.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());

    const interval = options.tls?.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS;
    const fromFiles = options.tls?.certFile !== undefined || options.tls?.keyFile !== undefined || options.tls?.caFile !== undefined;
    if (interval > 0 && fromFiles) {
      this.#reloadTimer = setInterval(() => void this.#periodicReload(), interval);
      this.#reloadTimer.unref();
    }
  }

  get url(): string {
    return this.#url;
  }

  get handler(): KesHandler {
    return this.#handler;
  }

  /** Enforces the client-certificate mode; caches the peer certificates on the socket. */
  #acceptConnection(socket: TLSSocket): boolean {
    if (this.#closing !== undefined) {
      socket.destroy();
      return false;
    }
    let certificates: X509Certificate[];
    try {
      certificates = peerCertificates(socket);
    } catch {
      socket.destroy();
      return false;
    }
    const mode = this.#mode;
    const required = mode === 'require-any' || mode === 'require-and-verify';
    const verify = mode === 'require-and-verify' || mode === 'verify-if-given';
    // Threat: unauthenticated clients reaching the HTTP layer; with auth on, certificates
    // from outside the configured CAs. Both are cut here, right after the handshake.
    // (Node accepts every certificate during the handshake and verifies it afterwards, so a
    // certificate that does not verify ends in a closed connection, not an "unknown ca" alert.)
    if ((certificates.length === 0 && required) || (certificates.length > 0 && verify && !socket.authorized)) {
      socket.destroy();
      return false;
    }
    (socket as PeerSocket)[kPeer] = Object.freeze({
      tls: true,
      certificates: Object.freeze(certificates),
      ...(socket.remoteAddress !== undefined ? { remoteAddress: socket.remoteAddress } : {}),
    });
    return true;
  }

  #onRequest(req: AnyRequest, res: AnyResponse): void {
    // Works for HTTP/1 (the TLS socket itself) and HTTP/2 (a proxy that forwards property reads).
    const peer = (req.socket as PeerSocket | undefined)?.[kPeer] ?? NO_PEER;
    this.#inFlight.add(res);
    res.once('close', () => {
      this.#inFlight.delete(res);
      if (this.#closing !== undefined) {
        if (!this.#http2) setImmediate(() => (this.#server as HttpsServer).closeIdleConnections());
        if (this.#inFlight.size === 0) this.#drained?.();
      }
    });
    if (this.#closing !== undefined) this.#noKeepAlive(res);
    // HTTP/1 responses only (with `http2`, HTTP/1.1 clients are served here too): a queued pipelined one.
    if (!('stream' in res) && res.socket === null) closeWithConnection(req as IncomingMessage, res);
    if (!this.#http2 && hasBody(req)) res.once('finish', () => closeIfBodyUnread(req as IncomingMessage));
    this.#handler.handle(req, res, peer);
  }

  /** While closing, HTTP/1 responses not yet started close their connection when done. */
  #noKeepAlive(res: AnyResponse): void {
    // HTTP/2 responses have a `stream`; GOAWAY handles those. `Connection: close` is HTTP/1 only.
    if (!('stream' in res)) {
      const r = res as ServerResponse;
      if (!r.headersSent) r.shouldKeepAlive = false;
    }
  }

  /** HTTP/2 idle timeout: close a session gracefully after the idle timeout without an open stream. */
  #onSession(session: Http2Session): void {
    this.#sessions.add(session);
    let active = 0;
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      idle = setTimeout(() => session.close(), this.#limits.idleTimeoutMs);
      idle.unref();
    };
    arm();
    session.on('stream', (stream: ServerHttp2Stream) => {
      active++;
      clearTimeout(idle);
      stream.once('close', () => {
        if (--active === 0 && !session.closed && !session.destroyed) arm();
      });
    });
    session.once('close', () => {
      clearTimeout(idle);
      this.#sessions.delete(session);
    });
    session.on('error', () => {
      // Session errors (client resets, protocol errors) only end that session.
    });
  }

  #applyTls(material: TlsMaterial): void {
    this.#server.setSecureContext(material.secureContext);
    this.#mode = clientAuthMode(material.auth, this.#handler.allowsAnonymousHandshake);
    // Read by Node for every new connection (tls.Server keeps it as a property).
    (this.#server as unknown as { rejectUnauthorized: boolean }).rejectUnauthorized = this.#mode === 'require-and-verify';
  }

  async #periodicReload(): Promise<void> {
    try {
      this.#applyTls(await loadTlsMaterial(this.#options.tls));
    } catch (err) {
      // A broken new certificate must not take the server down: keep the old one.
      this.#logError('failed to reload TLS certificate; keeping the current one', err);
    }
  }

  /** Server-level errors go through the handler's log hub, like request errors (one logging path). */
  #logError(msg: string, err: unknown): void {
    logServerError(this.#handler, this.#options.log, msg, err);
  }

  async listen(port?: number, host?: string): Promise<{ address: string; port: number }> {
    const def = parseAddress(this.#options.address);
    const p = port ?? def.port;
    const h = host ?? def.host;
    const server = this.#server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(p, h, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    this.#url = `https://${joinHostPort(h === undefined || h === '' ? 'localhost' : h, addr.port)}`;
    return { address: addr.address, port: addr.port };
  }

  async reload(options?: KesServerOptions): Promise<void> {
    const next = options ?? this.#options;
    const material = await loadTlsMaterial(next.tls);
    if (options !== undefined) await this.#handler.update(options);
    this.#options = next;
    this.#applyTls(material);
  }

  close(options?: { timeoutMs?: number }): Promise<void> {
    this.#closing ??= this.#close(options?.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    clearInterval(this.#reloadTimer);
    const server = this.#server;
    const stopped = new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
    if (!this.#http2) (server as HttpsServer).closeIdleConnections();
    // GOAWAY: no new streams, the open ones may finish.
    for (const s of this.#sessions) s.close();
    for (const res of this.#inFlight) this.#noKeepAlive(res);
    const drained = new Promise<void>((resolve) => {
      if (this.#inFlight.size === 0) return resolve();
      this.#drained = resolve;
    });
    // Ends log streams, waits for the handler's in-flight work, closes the key store.
    const handlerClosed = this.#handler.close().catch((err: unknown) => this.#logError('failed to close the request handler', err));

    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      timer.unref();
    });
    const outcome = await Promise.race([Promise.all([drained, handlerClosed, stopped]).then(() => 'done' as const), expired]);
    if (outcome === 'timeout') {
      for (const s of this.#sessions) s.destroy();
      for (const s of this.#sockets) s.destroy();
      // After the sockets are gone every response has closed; give the handler a moment.
      await Promise.race([Promise.all([handlerClosed, stopped]), new Promise((r) => setTimeout(r, 1_000).unref())]);
    }
    clearTimeout(timer);
  }
}

/**
 * Creates a KES server: the request handler of `createKesHandler(options)` behind node:https
 * (or node:http2 with HTTP/1.1 fallback when `tls.http2` is set).
 *
 * TLS: minimum TLS 1.2; a client certificate is required by default and any certificate is
 * accepted (`tls.auth: 'off'`, identity = hash of its public key; Ed25519, ECDSA, RSA);
 * with `tls.auth: 'on'` it must chain to `tls.ca`/`tls.caFile` (or the system roots when none
 * is configured). When any route has `skip_auth`, the handshake succeeds without a
 * certificate and authenticated routes answer `400 tls: client certificate is required`.
 * Certificate files are re-read on `reload()` and every `tls.reloadIntervalMs` (15 min).
 *
 * HTTP: handshake and header timeout 5 s, whole-request timeout 30 s, keep-alive 90 s, at most
 * 10 000 connections (all set by `options.limits`); a reply that leaves the request body unread
 * closes the connection. TLS 1.2 offers only ECDHE suites with AES-GCM or ChaCha20-Poly1305;
 * renegotiation is refused.
 *
 * @throws KesError `ERR_KES_INVALID_CERTIFICATE` (e.g. the server certificate has no DNS/IP SAN),
 *   `ERR_KES_INVALID_ARGUMENT` (missing or unreadable TLS files, wrong key password, key not
 *   matching the certificate, bad `tls.auth`, bad `address`, a limit that is not a positive integer),
 *   and anything `createKesHandler` throws.
 * @example
 * const server = await createKesServer({
 *   admin: adminIdentity,
 *   keyStore: createMemoryKeyStore(),
 *   tls: { certFile: 'server.crt', keyFile: 'server.key' },
 * });
 * const { port } = await server.listen(7373, '0.0.0.0');
 * // ...
 * await server.close();
 */
export async function createKesServer(options: KesServerOptions): Promise<KesServer> {
  return createKesServerWith(options, createKesHandler);
}

/**
 * Internal (not exported from the package): createKesServer with a given handler factory, so
 * transport tests can run against a stub handler.
 * @internal
 */
export async function createKesServerWith(
  options: KesServerOptions,
  createHandler: (options: KesServerOptions) => Promise<KesHandler>,
): Promise<KesServer> {
  // Validate transport settings before the handler creates keys or starts timers.
  parseAddress(options.address);
  resolveLimits(options.limits);
  const material = await loadTlsMaterial(options.tls);
  const handler = await createHandler(options);
  try {
    return new KesServerImpl(options, handler, material);
  } catch (err) {
    await handler.close();
    throw err;
  }
}
