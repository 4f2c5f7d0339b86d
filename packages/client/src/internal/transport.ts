/**
 * The HTTP layer of the client: `node:https` with one keep-alive agent, fail-over across
 * endpoints, retries of 503 and connection failures, one deadline per call, and the
 * translation of socket and TLS failures into `KesClientError`s that say what to do next.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { KesClientError, errorOfReply } from '../errors.js';
import { EndpointPool } from './endpoints.js';
import type { Endpoint } from './endpoints.js';

/** TLS material for every connection. */
export interface TransportTls {
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly ca?: (string | Buffer)[];
  readonly rejectUnauthorized: boolean;
}

export interface TransportOptions {
  readonly endpoints: readonly Endpoint[];
  readonly tls: TransportTls;
  /** Whether a client certificate is configured (only changes the hint of a refused handshake). */
  readonly hasCredentials: boolean;
  readonly retries: number;
  /** Deadline of a whole call (all attempts); 0 = none. */
  readonly timeoutMs: number;
  /** Longest a new connection may take to connect and finish the TLS handshake before the next endpoint is tried. */
  readonly connectTimeoutMs: number;
  readonly userAgent: string;
}

/** One request as the client layer describes it. */
export interface CallSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path below the endpoint, already escaped, e.g. `/v1/key/create/my-key`. */
  readonly path: string;
  /** JSON request body. The transport wipes nothing: the caller owns it. */
  readonly body?: Uint8Array;
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

/** A 2xx reply with its whole body. */
export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly endpoint: string;
}

/** A 2xx reply whose body is read as it arrives (log streams). */
export interface OpenResponse {
  readonly response: IncomingMessage;
  readonly endpoint: string;
  /** Ends the stream: destroys the request and releases the call's resources. */
  close(): void;
}

/** Largest reply body read into memory: a hostile or broken server must not exhaust the client's memory. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;
/** Largest error reply read: error bodies are one short message. */
const MAX_ERROR_REPLY_BYTES = 64 * 1024;

/** Socket error codes → what they mean to a user. */
const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset by the server',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed by the server',
};

/** OpenSSL verification results that mean "this certificate is not signed by anyone the client trusts". */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
]);

/** Thrown into a request to tell our own destroy() apart from the network's failures. */
class Interrupt extends Error {
  constructor(readonly kind: 'abort' | 'closed' | 'connect-timeout') {
    super(kind);
  }
}

/**
 * A classified failure of one attempt, and where the call may go next: `'any'` endpoint
 * (a connection failure may be transient, so the same one again after a back-off too), only
 * an `'other'` endpoint not yet tried in this call (a TLS failure will not fix itself, but
 * another server may be configured right), or `'none'`.
 */
class Failure {
  constructor(
    readonly error: KesClientError,
    readonly retry: 'any' | 'other' | 'none',
    readonly reason: string,
  ) {}
}

/** The caller's signal and the call's deadline, merged into one signal the attempts listen to. */
class CallScope {
  readonly #ctl = new AbortController();
  readonly #user: AbortSignal | undefined;
  readonly #onUser = (): void => this.#ctl.abort();
  #timer: NodeJS.Timeout | undefined;
  #timedOut = false;

  constructor(
    user: AbortSignal | undefined,
    readonly timeoutMs: number,
  ) {
    this.#user = user;
    if (user?.aborted) this.#ctl.abort();
    else user?.addEventListener('abort', this.#onUser, { once: true });
    if (timeoutMs > 0 && !this.#ctl.signal.aborted) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        this.#ctl.abort();
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** The deadline covers a stream only until its reply headers arrived. */
  stopTimer(): void {
    clearTimeout(this.#timer);
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#user?.removeEventListener('abort', this.#onUser);
  }

  /** What an interrupted call rejects with: the caller's abort reason, or a timeout error. */
  failure(spec: CallSpec, endpoint: Endpoint | undefined): unknown {
    if (this.#timedOut) {
      return new KesClientError(
        'ERR_KES_CLIENT_TIMEOUT',
        `${spec.method} ${spec.path}${endpoint ? ` on ${endpoint.url}` : ''} timed out after ${this.timeoutMs} ms — ` +
          'the server or its key store is slow or not answering; try again, or raise the timeout',
        endpoint ? { endpoint: endpoint.url } : {},
      );
    }
    return this.#user?.reason ?? new DOMException('This operation was aborted', 'AbortError');
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.#ctl.signal;
      if (signal.aborted) return reject(new Interrupt('abort'));
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new Interrupt('abort'));
      };
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Back-off before going round the endpoint list again: 100 ms, 200 ms, … up to 1 s, with jitter. */
function backoffMs(round: number): number {
  const base = Math.min(1000, 100 * 2 ** (round - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** Reads a whole body, refusing more than `max` bytes. With `wipe`, the received chunks are zeroed after copying. */
function readBody(res: IncomingMessage, max: number, endpoint: string, wipe = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    res.on('data', (c: Buffer) => {
      size += c.length;
      chunks.push(c);
      if (size > max) {
        done = true;
        if (wipe) for (const k of chunks) k.fill(0);
        res.destroy();
        reject(
          new KesClientError('ERR_KES_CLIENT_PROTOCOL', `${endpoint} sent a reply larger than ${max} bytes`, {
            endpoint,
            status: res.statusCode ?? 0,
          }),
        );
      }
    });
    res.once('end', () => {
      if (done) return;
      done = true;
      const body = Buffer.concat(chunks, size);
      if (wipe) for (const k of chunks) k.fill(0);
      resolve(body);
    });
    res.once('close', () => {
      if (done) return;
      done = true;
      if (wipe) for (const k of chunks) k.fill(0);
      reject(new Interrupt('abort'));
    });
  });
}

/**
 * The connection to one or more KES servers. One keep-alive agent holds the TLS settings
 * for every endpoint (Node keys its socket pool by host, port and TLS options).
 */
export class Transport {
  readonly #options: TransportOptions;
  readonly #pool: EndpointPool;
  readonly #agent: Agent;
  readonly #inflight = new Set<ClientRequest>();
  #closed = false;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#pool = new EndpointPool(options.endpoints);
    const { cert, key, ca, rejectUnauthorized } = options.tls;
    this.#agent = new Agent({
      keepAlive: true,
      // Idle sockets are closed before the server's 90 s idle timeout would reset them under a request.
      timeout: 60_000,
      scheduling: 'lifo',
      minVersion: 'TLSv1.2',
      rejectUnauthorized,
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(ca !== undefined ? { ca } : {}),
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get endpoints(): readonly Endpoint[] {
    return this.#pool.endpoints;
  }

  /** Sends one call (with fail-over) and reads the whole 2xx reply. */
  async request(spec: CallSpec, options: { secret?: boolean; maxBytes?: number } = {}): Promise<Reply> {
    return this.#run(spec, false, async (res, _req, ep) => {
      const body = await readBody(res, options.maxBytes ?? MAX_REPLY_BYTES, ep.url, options.secret);
      return { status: res.statusCode ?? 0, headers: res.headers, body, endpoint: ep.url };
    });
  }

  /** Sends one call (with fail-over) and hands over the 2xx reply unread; the deadline stops at its headers. */
  async open(spec: CallSpec): Promise<OpenResponse> {
    return this.#run(spec, true, async (res, req, ep, scope) => {
      scope.stopTimer();
      req.setTimeout(0); // a quiet stream is not an idle socket
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        scope.dispose();
        req.destroy();
      };
      res.once('close', () => {
        closed = true;
        scope.dispose();
      });
      return { response: res, endpoint: ep.url, close };
    });
  }

  /** Destroys every open connection and the agent; later calls fail with `ERR_KES_CLIENT_CLOSED`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const req of this.#inflight) req.destroy(new Interrupt('closed'));
    this.#inflight.clear();
    this.#agent.destroy();
  }

  async #run<T>(
    spec: CallSpec,
    keepScope: boolean,
    use: (res: IncomingMessage, req: ClientRequest, ep: Endpoint, scope: CallScope) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw closedError();
    const scope = new CallScope(spec.signal, spec.timeoutMs ?? this.#options.timeoutMs);
    let keep = false;
    const order = this.#pool.order();
    let endpoint: Endpoint | undefined;
    const unreachable = new Set<string>();
    let last: Failure | undefined;
    try {
      for (let attempt = 0; attempt <= this.#options.retries; attempt++) {
        const ep = order[attempt % order.length] as Endpoint;
        endpoint = ep;
        if (attempt > 0 && attempt % order.length === 0) {
          try {
            await scope.sleep(backoffMs(attempt / order.length));
          } catch {
            throw scope.failure(spec, ep);
          }
        }
        let exchange: { req: ClientRequest; res: IncomingMessage };
        try {
          exchange = await this.#send(ep, spec, scope.signal);
        } catch (e) {
          if (this.#closed) throw closedError();
          if (scope.signal.aborted) throw scope.failure(spec, ep);
          if (!(e instanceof Failure)) throw e;
          const otherLeft = attempt + 1 < order.length && attempt < this.#options.retries;
          if (e.retry === 'none' || (e.retry === 'other' && !otherLeft)) throw e.error;
          this.#pool.markBad(ep);
          if (e.error.code === 'ERR_KES_CLIENT_UNREACHABLE') unreachable.add(ep.url);
          last = e;
          continue;
        }
        const { req, res } = exchange;
        const status = res.statusCode ?? 0;
        // As KES clients do: a 5xx other than 501 (not implemented) takes the endpoint out of rotation for a while.
        if (status >= 500 && status !== 501) this.#pool.markBad(ep);
        try {
          if (status === 503 && attempt < this.#options.retries) {
            res.resume();
            last = undefined;
            continue;
          }
          if (status < 200 || status > 299) {
            const body = await readBody(res, MAX_ERROR_REPLY_BYTES, ep.url);
            throw errorOfReply(status, res.headers['content-type'], body, ep.url);
          }
          const result = await use(res, req, ep, scope);
          keep = keepScope;
          return result;
        } catch (e) {
          if (this.#closed) throw closedError();
          if (scope.signal.aborted) throw scope.failure(spec, ep);
          if (e instanceof Interrupt) throw connectionLost(ep);
          throw e;
        }
      }
      if (last === undefined) throw new Error('unreachable: retry loop ended without a failure');
      if (last.error.code === 'ERR_KES_CLIENT_UNREACHABLE' && unreachable.size > 1) {
        throw new KesClientError(
          'ERR_KES_CLIENT_UNREACHABLE',
          `cannot reach any of ${[...unreachable].join(', ')}: ${last.reason} — are the servers running? check KES_SERVER`,
          { cause: last.error.cause, ...(endpoint ? { endpoint: endpoint.url } : {}) },
        );
      }
      throw last.error;
    } finally {
      if (!keep) scope.dispose();
    }
  }

  /** One attempt: resolves with the reply headers, rejects with a `Failure` or an `Interrupt`. */
  #send(ep: Endpoint, spec: CallSpec, signal: AbortSignal): Promise<{ req: ClientRequest; res: IncomingMessage }> {
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { 'user-agent': this.#options.userAgent };
      if (spec.body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = spec.body.byteLength;
      } else if (spec.method === 'POST' || spec.method === 'PUT') {
        headers['content-length'] = 0;
      }
      const req = httpsRequest({
        agent: this.#agent,
        hostname: ep.hostname,
        port: ep.port,
        path: ep.basePath + spec.path,
        method: spec.method,
        headers,
      });
      this.#inflight.add(req);
      const state = { fresh: false, secured: false, answered: false };
      let connectTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        req.destroy(new Interrupt('abort'));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => {
        clearTimeout(connectTimer);
        signal.removeEventListener('abort', onAbort);
        this.#inflight.delete(req);
      });
      req.once('socket', (socket) => {
        if (req.reusedSocket) {
          state.secured = true;
          return;
        }
        state.fresh = true;
        connectTimer = setTimeout(() => req.destroy(new Interrupt('connect-timeout')), this.#options.connectTimeoutMs);
        (socket as TLSSocket).once('secureConnect', () => {
          state.secured = true;
          clearTimeout(connectTimer);
        });
      });
      req.once('response', (res) => {
        state.answered = true;
        clearTimeout(connectTimer);
        res.on('error', () => {}); // reported through 'close' by readBody / the stream reader
        resolve({ req, res });
      });
      req.on('error', (err) => {
        if (state.answered) return;
        reject(err instanceof Interrupt && err.kind !== 'connect-timeout' ? err : this.#classify(err, ep, state));
      });
      req.end(spec.body);
    });
  }

  /** Turns a socket or TLS error into a `Failure` with a message that tells the user what to do next. */
  #classify(err: Error, ep: Endpoint, state: { fresh: boolean; secured: boolean }): Failure {
    const url = ep.url;
    const unreachable = (reason: string): Failure =>
      new Failure(
        new KesClientError('ERR_KES_CLIENT_UNREACHABLE', `cannot reach ${url}: ${reason} — is the server running? check KES_SERVER`, {
          endpoint: url,
          cause: err,
        }),
        'any',
        reason,
      );
    const tls = (message: string): Failure =>
      new Failure(new KesClientError('ERR_KES_CLIENT_TLS', message, { endpoint: url, cause: err }), 'other', message);

    if (err instanceof Interrupt) return unreachable(`no TLS connection within ${this.#options.connectTimeoutMs} ms`);
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (UNTRUSTED.has(code)) {
      return tls(
        `cannot verify the TLS certificate of ${url}: ${err.message} — give the client the CA certificate that signed it (ca), ` +
          'or, for a test server only, skip verification (insecure, kes -k)',
      );
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return tls(`the TLS certificate of ${url} is not valid for ${ep.hostname} — connect with a host name or IP address the certificate lists`);
    }
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
      return tls(`the TLS certificate of ${url} is expired or not yet valid (${err.message}) — renew the server certificate or check the clock`);
    }
    const refused = this.#options.hasCredentials
      ? `${url} refused the TLS connection: it did not accept the client certificate — check that the server trusts it ` +
        '(with tls.auth on it must be signed by a CA in the server’s tls.ca) and that it is not expired'
      : `${url} refused the TLS connection: it requires a client certificate — pass an API key (apiKey, KES_API_KEY) ` +
        'or a client certificate and key';
    if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE|ACCESS_DENIED)/.test(code)) return tls(refused);
    if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || 'library' in err) {
      return tls(`the TLS handshake with ${url} failed: ${err.message} — check the server’s TLS settings and the client certificate`);
    }
    // The server cut a brand-new connection right after the handshake, before answering:
    // that is how a KES server turns away a client certificate it does not accept.
    if (state.fresh && state.secured && (code === 'ECONNRESET' || code === 'EPIPE')) return tls(refused);
    return unreachable(REASONS[code] ?? err.message);
  }
}

function closedError(): KesClientError {
  return new KesClientError('ERR_KES_CLIENT_CLOSED', 'the KES client was closed — create a new one with createKesClient()');
}

function connectionLost(ep: Endpoint): KesClientError {
  return new KesClientError('ERR_KES_CLIENT_UNREACHABLE', `the connection to ${ep.url} broke while reading the reply — try again`, {
    endpoint: ep.url,
  });
}
