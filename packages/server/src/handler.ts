/**
 * The KES HTTP API as an in-process request handler: routing, the per-request
 * pipeline (spec §2), authentication and authorization, every route, metrics,
 * audit and error logs. `createKesServer()` wraps it in TLS; tests call `inject()`.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { readFileSync } from 'node:fs';
import {
  KesError,
  formatTimestamp,
  goJsonString,
  identifyPeer,
  identityOfCertificate,
  isKesError,
  parseForwardedCertificate,
} from '@kes/core';
import type { KesErrorCode } from '@kes/core';
import type { KesServerOptions } from './options.js';
import { cleanPath, locationOf, unescapePath } from './internal/routes.js';
import { replyBadRequest, replyError, replyNotFound, replyRedirect } from './internal/http.js';
import type { AnyRequest, AnyResponse } from './internal/http.js';
import { LogHub, rfc3339Nano } from './internal/logs.js';
import type { AuditEvent } from './internal/logs.js';
import { Metrics } from './internal/metrics.js';
import { buildState, createDeclaredKeys } from './internal/state.js';
import type { State } from './internal/state.js';
import { dispatch } from './internal/api.js';
import { DeadlineQueue } from './internal/deadline.js';
import type { RouteDeadline } from './internal/deadline.js';
import type { Ctx, Shared } from './internal/api.js';
import { FakeRequest, FakeResponse } from './internal/inject.js';

/** What the transport knows about the connection a request arrived on. */
export interface PeerInfo {
  /** false when the request did not arrive over TLS (→ 400 'insecure connection: TLS is required' on authenticated routes). */
  readonly tls: boolean;
  /**
   * The certificates the client presented, empty if none. The first MUST be the leaf the TLS
   * handshake authenticated (the only one that can become the identity); the rest are chain
   * material whose signatures may never have been checked.
   */
  readonly certificates: readonly X509Certificate[];
  readonly remoteAddress?: string;
}

/** A request for `KesHandler.inject()`. */
export interface InjectRequest {
  method: string;
  /** Path, may include `?query`. */
  path: string;
  /** Header values; an array sends the header several times. */
  headers?: Record<string, string | readonly string[]>;
  body?: string | Uint8Array;
  /** Caller identity (hex): the test stands in for TLS. Takes precedence over `certificates`. */
  identity?: string;
  /**
   * Client certificates, the authenticated leaf first: run the full identification.
   * Neither this nor `identity` = no client certificate.
   */
  certificates?: readonly X509Certificate[];
  /** Whether the request "arrived over TLS" (default true). */
  tls?: boolean;
  remoteAddress?: string;
  /** Ends a streaming response (log routes) as if the client disconnected; inject then resolves with what was written. */
  signal?: AbortSignal;
}

/** The recorded reply of an injected request. */
export interface InjectResponse {
  status: number;
  /** Response headers, names lower-cased. */
  headers: Record<string, string>;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

/** The request handler `createKesServer()` drives; usable on its own for embedding and tests. */
export interface KesHandler {
  /** Serve one request (HTTP/1.1 or the HTTP/2 compatibility API). Never throws; never crashes on bad input. */
  handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, peer: PeerInfo): void;
  /**
   * Run a request in-process, with authentication, without a socket.
   *
   * Rejects only when the response was torn down without a status (a route timeout).
   */
  inject(request: InjectRequest): Promise<InjectResponse>;
  /**
   * Apply new options (reload: policies, admin, api overrides, cache, key store). In-flight requests finish on the old state.
   *
   * @throws ERR_KES_INVALID_ARGUMENT for invalid options (the old state stays active); key-store errors while creating declared keys.
   */
  update(options: KesServerOptions): Promise<void>;
  /** Whether any route has skip_auth (the TLS layer then allows handshakes without a client cert). */
  readonly allowsAnonymousHandshake: boolean;
  /** Audit and error event subscription for embedding apps (same events as /v1/log/*). Returns an unsubscribe function. */
  on(event: 'audit' | 'error', listener: (event: object) => void): () => void;
  /** Wait for in-flight requests, end log streams, stop cache timers, close the key store. */
  close(): Promise<void>;
}

/** Codes a client may see as they are; anything else is reported as a generic 500. */
const CLIENT_CODES: ReadonlySet<KesErrorCode> = new Set<KesErrorCode>([
  'ERR_KES_NOT_ALLOWED',
  'ERR_KES_KEY_NOT_FOUND',
  'ERR_KES_KEY_EXISTS',
  'ERR_KES_POLICY_NOT_FOUND',
  'ERR_KES_IDENTITY_NOT_FOUND',
  'ERR_KES_DECRYPT',
  'ERR_KES_INSECURE_CONNECTION',
  'ERR_KES_CLIENT_CERT_REQUIRED',
  'ERR_KES_TOO_MANY_CLIENT_CERTS',
  'ERR_KES_PROXY_NO_CERT',
  'ERR_KES_PROXY_TOO_MANY_CERTS',
  'ERR_KES_PROXY_INVALID_CERT',
  'ERR_KES_METHOD_NOT_ALLOWED',
  'ERR_KES_INVALID_KEY_NAME',
  'ERR_KES_INVALID_POLICY_NAME',
  'ERR_KES_INVALID_IDENTITY',
  'ERR_KES_INVALID_PATTERN',
  'ERR_KES_INVALID_REQUEST_BODY',
  'ERR_KES_INVALID_IMPORT_BODY',
  'ERR_KES_UNSUPPORTED_ALGORITHM',
  'ERR_KES_ALGORITHM_NOT_FIPS',
  'ERR_KES_INVALID_KEY_SIZE',
  'ERR_KES_HMAC_NOT_SUPPORTED',
  'ERR_KES_CREATE_KEY_FAILED',
  'ERR_KES_IMPORT_KEY_FAILED',
  'ERR_KES_READ_KEY_FAILED',
  'ERR_KES_DELETE_KEY_FAILED',
  'ERR_KES_LIST_KEYS_FAILED',
  'ERR_KES_GENERATE_KEY_FAILED',
  'ERR_KES_ENCRYPT_FAILED',
  'ERR_KES_DECRYPT_FAILED',
  'ERR_KES_KEYSTORE_UNREACHABLE',
  'ERR_KES_KEYSTORE_UNAVAILABLE',
  'ERR_KES_VERSION_UNKNOWN',
  'ERR_KES_NOT_REPLICATED',
  'ERR_KES_INTERNAL',
]);

const PACKAGE_VERSION = readPackageVersion();

function readPackageVersion(): string {
  try {
    // src/handler.ts and the bundled dist/index.js both sit one level below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '<unknown>';
  } catch {
    return '<unknown>';
  }
}

/** Teardown marker: the route timeout fired. */
const TIMED_OUT = 0;

class Handler implements KesHandler {
  #state: State;
  readonly #shared: Shared;
  /** Identity per certificate list: the TLS layer hands the same array for every request of a connection. */
  readonly #identities = new WeakMap<readonly X509Certificate[], string | KesError>();
  #inflight = 0;
  readonly #deadlines = new DeadlineQueue();
  #idle: (() => void)[] = [];
  #closed: Promise<void> | undefined;

  constructor(state: State, shared: Shared) {
    this.#state = state;
    this.#shared = shared;
  }

  get allowsAnonymousHandshake(): boolean {
    return this.#state.router.anySkipAuth;
  }

  on(event: 'audit' | 'error', listener: (event: object) => void): () => void {
    return this.#shared.logs.on(event, listener);
  }

  handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, peer: PeerInfo): void {
    this.#serve(req, res, peer, undefined).catch((e: unknown) => {
      this.#shared.logs.error('internal error while serving a request', undefined, e instanceof Error ? e.message : String(e));
      try {
        res.destroy();
      } catch {
        /* nothing left to tear down */
      }
    });
  }

  async inject(request: InjectRequest): Promise<InjectResponse> {
    const body = request.body === undefined ? undefined : typeof request.body === 'string' ? Buffer.from(request.body) : Buffer.from(request.body);
    const req = new FakeRequest(request.method, request.path, request.headers ?? {}, body);
    const res = new FakeResponse();
    const peer: PeerInfo = {
      tls: request.tls ?? true,
      certificates: request.certificates ?? [],
      ...(request.remoteAddress !== undefined ? { remoteAddress: request.remoteAddress } : {}),
    };
    const signal = request.signal;
    const onAbort = (): void => res.disconnect();
    if (signal) {
      if (signal.aborted) res.disconnect();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    const served = this.#serve(req as unknown as IncomingMessage, res as unknown as ServerResponse, peer, request.identity);
    const how = await res.done;
    signal?.removeEventListener('abort', onAbort);
    if (how === 'destroyed') {
      await served.catch(() => undefined);
      throw new Error('the response was torn down without a status (route timeout)');
    }
    // Let the pipeline finish its bookkeeping (audit, metrics) before handing back.
    await served;
    const buf = res.body;
    return {
      status: res.statusCode,
      headers: res.headers,
      body: buf,
      text: () => buf.toString('utf8'),
      json: <T>() => JSON.parse(buf.toString('utf8')) as T,
    };
  }

  async update(options: KesServerOptions): Promise<void> {
    const old = this.#state;
    const next = buildState(options, old);
    try {
      await createDeclaredKeys(next);
    } catch (e) {
      if (next.cache !== old.cache) next.cache.close();
      throw e;
    }
    this.#shared.logs.configure(options.log);
    this.#state = next;
    const retire = (): void => {
      if (old.cache !== next.cache) old.cache.close();
      if (old.store !== next.store) void old.store.close().catch(() => undefined);
    };
    if (old.inflight === 0) retire();
    else old.onDrained = retire;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#shared.closing = true;
      this.#shared.logs.closeStreams();
      if (this.#inflight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      const s = this.#state;
      s.cache.close();
      await s.store.close();
    })();
    return this.#closed;
  }

  /** The pipeline (spec §2). Resolves when the response is complete and accounted for. */
  async #serve(req: AnyRequest, res: AnyResponse, peer: PeerInfo, identityOverride: string | undefined): Promise<void> {
    const startMs = Date.now();
    const t0 = performance.now();
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const ip = peer.remoteAddress ?? '';

    // Go rejects a malformed escape while parsing the request line, before the mux (plain 400).
    const decoded = unescapePath(rawPath);
    if (decoded === undefined) {
      this.#audit(startMs, t0, ip, rawPath, '', replyBadRequest(res), method);
      return;
    }
    const query = q < 0 ? '' : url.slice(q);
    // ServeMux cleans the *escaped* path: `%2e%2e` and `%2F` are name bytes, not path syntax.
    const cleaned = cleanPath(rawPath);
    if (cleaned !== rawPath) {
      this.#audit(startMs, t0, ip, decoded, '', replyRedirect(res, method, locationOf(cleaned) + query), method);
      return;
    }
    const path = decoded;
    const m = this.#state.router.match(path);
    if (m.kind === 'not-found') {
      this.#audit(startMs, t0, ip, path, '', replyNotFound(res), method);
      return;
    }
    if (m.kind === 'redirect') {
      this.#audit(startMs, t0, ip, path, '', replyRedirect(res, method, locationOf(`${rawPath}/`) + query), method);
      return;
    }

    const state = this.#state;
    const route = m.route;
    state.inflight++;
    this.#inflight++;
    let status = 0;
    let identity = '';
    let clientIp = ip;
    let deadline: RouteDeadline | undefined;
    let metricStart = -1;
    try {
      // 1. Method check (POST is accepted where the route says PUT).
      if (method !== route.method && !(method === 'POST' && route.method === 'PUT')) {
        const err = new KesError('ERR_KES_METHOD_NOT_ALLOWED', [method, route.method]);
        status = replyError(res, err.status, err.message, { Accept: route.acceptHeader });
        return;
      }
      // 2. Route timeout: abort the handler and tear the response down without a status, like upstream.
      // One shared timer per handler (not one per request); the abort signal is created only if a handler asks.
      if (route.timeoutMs > 0) deadline = this.#deadlines.start(route.timeoutMs, res as { writableEnded?: boolean; destroy(): void });
      // 3. Authentication / authorization, before any name validation.
      if (route.auth !== 'none') {
        try {
          const who = this.#identify(state, req, peer, identityOverride);
          identity = who.identity;
          if (who.ip !== undefined) clientIp = who.ip;
          if (route.auth === 'policy') {
            // A placeholder admin (`disabled`, uppercase hex) must never grant admin rights.
            if (!state.adminEnabled && state.engine.isAdmin(identity)) throw new KesError('ERR_KES_NOT_ALLOWED');
            state.engine.verify(identity, path);
          }
        } catch (e) {
          if (route.auth === 'policy') throw e;
          identity = ''; // identify-only: a missing/ambiguous certificate is not an error
        }
      }
      // 4. Handler.
      if (route.counted) metricStart = this.#shared.metrics.begin();
      const ctx: Ctx = {
        shared: this.#shared,
        state,
        req,
        res,
        route,
        resource: m.resource,
        path,
        method,
        identity,
        ip: clientIp,
        deadline,
      };
      status = await dispatch(ctx);
    } catch (e) {
      if (deadline?.timedOut) {
        status = TIMED_OUT;
      } else {
        status = this.#fail(res, e, { method, path, ip: clientIp, identity });
      }
    } finally {
      if (deadline !== undefined) {
        this.#deadlines.finish(deadline, route.timeoutMs);
        if (deadline.timedOut) {
          status = TIMED_OUT;
          this.#shared.logs.error('request timed out', { method, path, ip: clientIp, identity });
        }
      }
      if (metricStart >= 0) this.#shared.metrics.end(metricStart, status);
      this.#audit(startMs, t0, clientIp, path, identity, status, method);
      if (--state.inflight === 0 && state !== this.#state) state.onDrained?.();
      if (--this.#inflight === 0 && this.#idle.length > 0) {
        const waiting = this.#idle;
        this.#idle = [];
        for (const w of waiting) w();
      }
    }
  }

  /** Error reply for anything thrown by auth or a handler; uncatalogued errors become a generic 500. */
  #fail(res: AnyResponse, e: unknown, where: { method: string; path: string; ip: string; identity: string }): number {
    const err = isKesError(e) && CLIENT_CODES.has(e.code) ? e : new KesError('ERR_KES_INTERNAL', [], { cause: e });
    if (err.status >= 500) {
      this.#shared.logs.error(err.message, where, causeChain(err.cause));
    }
    const w = res as { headersSent?: boolean; writableEnded?: boolean; end(): void };
    if (w.headersSent) {
      if (!w.writableEnded) w.end();
      return err.status;
    }
    return replyError(res, err.status, err.message);
  }

  /**
   * The caller's identity (spec §5.1, §5.5).
   *
   * @throws ERR_KES_INSECURE_CONNECTION, ERR_KES_CLIENT_CERT_REQUIRED, ERR_KES_TOO_MANY_CLIENT_CERTS,
   *   ERR_KES_PROXY_NO_CERT, ERR_KES_PROXY_TOO_MANY_CERTS, ERR_KES_PROXY_INVALID_CERT, ERR_KES_NOT_ALLOWED.
   */
  #identify(state: State, req: AnyRequest, peer: PeerInfo, override: string | undefined): { identity: string; ip?: string } {
    if (!peer.tls) throw new KesError('ERR_KES_INSECURE_CONNECTION');
    let identity: string;
    if (override !== undefined) {
      identity = override;
    } else {
      const certs = peer.certificates;
      let cached = this.#identities.get(certs);
      if (cached === undefined) {
        try {
          cached = identifyPeer(certs[0], certs.slice(1));
        } catch (e) {
          cached = isKesError(e) ? e : new KesError('ERR_KES_CLIENT_CERT_REQUIRED', [], { cause: e });
        }
        this.#identities.set(certs, cached);
      }
      if (typeof cached !== 'string') throw cached;
      identity = cached;
    }
    const proxy = state.proxy;
    if (proxy === undefined || !proxy.identities.has(identity)) return { identity };

    // A trusted TLS proxy: the real client is the forwarded certificate.
    const values = headerValues(req, proxy.header);
    if (values.length === 0) throw new KesError('ERR_KES_PROXY_NO_CERT');
    if (values.length > 1) throw new KesError('ERR_KES_PROXY_TOO_MANY_CERTS');
    const cert = parseForwardedCertificate(values[0] as string);
    if (proxy.cas.length > 0 && !verifiedBy(cert, proxy.cas)) throw new KesError('ERR_KES_NOT_ALLOWED');
    const forwardedIp = firstForwardedFor(headerValues(req, proxy.forwardedFor));
    return { identity: identityOfCertificate(cert), ...(forwardedIp ? { ip: forwardedIp } : {}) };
  }

  #audit(startMs: number, t0: number, ip: string, path: string, identity: string, code: number, method: string): void {
    const logs = this.#shared.logs;
    if (!logs.wantsAudit) return;
    // Field order as upstream: ip, path, identity (empty ones omitted).
    const request: { ip?: string; path: string; identity?: string } = ip ? { ip, path } : { path };
    if (identity) request.identity = identity;
    const event: AuditEvent = {
      time: rfc3339Nano(startMs),
      request,
      response: { code, time: Math.trunc(performance.now() - t0) },
    };
    logs.audit(event, method);
  }
}

/** Messages of a cause chain, for the operator's error log only. */
function causeChain(cause: unknown): string | undefined {
  const parts: string[] = [];
  for (let c = cause, depth = 0; c !== undefined && c !== null && depth < 5; depth++) {
    parts.push(c instanceof Error ? c.message : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return parts.length > 0 ? parts.join(': ') : undefined;
}

/** All values of a request header (handles repeated headers on HTTP/1.1 and HTTP/2). */
function headerValues(req: AnyRequest, name: string): string[] {
  const distinct = (req as { headersDistinct?: Record<string, string[] | undefined> }).headersDistinct;
  if (distinct) return distinct[name] ?? [];
  const v = req.headers[name];
  if (v === undefined) return [];
  // URL-escaped PEM contains no commas, so a joined value can be split safely.
  return (Array.isArray(v) ? v : String(v).split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** First `X-Forwarded-For` entry, port stripped, `unknown` ignored. */
function firstForwardedFor(values: readonly string[]): string | undefined {
  const first = values.join(',').split(',')[0]?.trim();
  if (!first || first.toLowerCase() === 'unknown') return undefined;
  if (first.startsWith('[')) {
    const end = first.indexOf(']');
    return end > 0 ? first.slice(1, end) : undefined;
  }
  const colons = first.split(':').length - 1;
  return colons === 1 ? first.slice(0, first.indexOf(':')) : first;
}

/** Forwarded certificate issued (and signed) by one of the CAs and currently valid. */
function verifiedBy(cert: X509Certificate, cas: readonly X509Certificate[]): boolean {
  const now = Date.now();
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) return false;
  return cas.some((ca) => {
    try {
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/**
 * Creates the KES request handler: validates the options, creates the declarative
 * `keys` that are missing, starts the cache timers.
 *
 * @throws ERR_KES_INVALID_ARGUMENT for invalid options (every problem named); key-store
 *   errors from creating declared keys.
 * @example
 * const handler = await createKesHandler({ admin, keyStore: createMemoryKeyStore() });
 * const res = await handler.inject({ method: 'POST', path: '/v1/key/create/my-key', identity: admin });
 */
export async function createKesHandler(options: KesServerOptions): Promise<KesHandler> {
  const state = buildState(options, undefined);
  try {
    await createDeclaredKeys(state);
  } catch (e) {
    state.cache.close();
    throw e;
  }
  const startedAt = Date.now();
  const start = new Date(startedAt);
  const metrics = new Metrics(startedAt);
  const logs = new LogHub(options.log, metrics);
  const version = options.build?.version ?? PACKAGE_VERSION;
  const commit = options.build?.commit ?? '<unknown>';
  const shared: Shared = {
    metrics,
    logs,
    startedAt,
    startedAtText: formatTimestamp(
      { seconds: Math.floor(startedAt / 1000), nanos: (startedAt % 1000) * 1_000_000 },
      -start.getTimezoneOffset(),
    ),
    versionBody: `{"version":${goJsonString(version)},"commit":${goJsonString(commit)}}`,
    version,
    closing: false,
  };
  return new Handler(state, shared);
}

