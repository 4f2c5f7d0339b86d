/**
 * The KES HTTP API as an in-process request handler: the public `KesHandler` and its
 * lifecycle (create, reload, close, `inject()`). The request path itself lives in
 * `internal/pipeline.ts`, identification in `internal/identify.ts` and every route in
 * its resource module under `internal/routes/`. `createKesServer()` wraps it in TLS.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { readFileSync } from 'node:fs';
import { formatTimestamp, goJsonString } from '@kes/core/wire';
import type { KesServerOptions, LogOptions } from './options.js';
import { causeChain } from './internal/client-errors.js';
import type { Shared } from './internal/context.js';
import { FakeRequest, FakeResponse } from './internal/inject.js';
import { LogHub } from './internal/logs.js';
import { Metrics } from './internal/metrics.js';
import { Pipeline } from './internal/pipeline.js';
import { buildState, createDeclaredKeys } from './internal/state.js';
import type { State } from './internal/state.js';
import { startAutoRotation } from './internal/auto-rotate.js';

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

class Handler implements KesHandler {
  readonly #pipeline: Pipeline;
  #closed: Promise<void> | undefined;
  readonly #stopAutoRotation: () => void;

  constructor(pipeline: Pipeline) {
    this.#pipeline = pipeline;
    this.#watchVersions(pipeline.state);
    this.#stopAutoRotation = startAutoRotation(() => this.#pipeline.state, this.logs);
  }

  /** Stale version records are reported in the error log. */
  #watchVersions(state: State): void {
    state.cache.warn = (message) => this.logs.error(message, undefined);
  }

  get allowsAnonymousHandshake(): boolean {
    return this.#pipeline.state.router.anySkipAuth;
  }

  /** The event hub behind `on()` and `/v1/log/*`: the server logs its own errors here too. */
  get logs(): LogHub {
    return this.#pipeline.shared.logs;
  }

  on(event: 'audit' | 'error', listener: (event: object) => void): () => void {
    return this.logs.on(event, listener);
  }

  handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, peer: PeerInfo): void {
    this.#pipeline.serve(req, res, peer, undefined).catch((e: unknown) => {
      this.logs.error('internal error while serving a request', undefined, e instanceof Error ? e.message : String(e));
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
    const served = this.#pipeline.serve(req as unknown as IncomingMessage, res as unknown as ServerResponse, peer, request.identity);
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
    const old = this.#pipeline.state;
    const next = buildState(options, old);
    try {
      await createDeclaredKeys(next);
    } catch (e) {
      if (next.cache !== old.cache) next.cache.close();
      throw e;
    }
    this.logs.configure(options.log);
    this.#watchVersions(next);
    this.#pipeline.state = next;
    const retire = (): void => {
      if (old.cache !== next.cache) old.cache.close();
      if (old.store !== next.store) void old.store.close().catch(() => undefined);
    };
    if (old.inflight === 0) retire();
    else old.onDrained = retire;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#pipeline.shared.closing = true;
      this.#stopAutoRotation();
      this.logs.closeStreams();
      await this.#pipeline.idle();
      const s = this.#pipeline.state;
      s.cache.close();
      await this.logs.closeAuditFile();
      await s.store.close();
    })();
    return this.#closed;
  }
}

/**
 * Internal (not exported from the package): logs a server-level error (a failed certificate
 * reload, a failed close) through the handler's event hub, so `/v1/log/error` subscribers,
 * `on('error')` listeners and the console all see it. A handler that is not one of ours (a
 * transport test's stub) has no hub: the line then goes to the console `log` configures.
 * @internal
 */
export function logServerError(handler: KesHandler, log: LogOptions | undefined, message: string, err: unknown): void {
  const hub = handler instanceof Handler ? handler.logs : new LogHub(log);
  hub.error(message, undefined, causeChain(err));
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
  return createKesHandlerWith(options, undefined);
}

/**
 * Internal (not exported from the package): createKesHandler for a cluster worker, whose
 * status, metrics and log streams `attach` wires to the other workers (see `cluster.ts`).
 * @internal
 */
export async function createKesHandlerWith(options: KesServerOptions, attach: ((shared: Shared) => void) | undefined): Promise<KesHandler> {
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
    startedAtText: formatTimestamp({ seconds: Math.floor(startedAt / 1000), nanos: (startedAt % 1000) * 1_000_000 }, -start.getTimezoneOffset()),
    versionBody: `{"version":${goJsonString(version)},"commit":${goJsonString(commit)}}`,
    version,
    closing: false,
  };
  attach?.(shared);
  return new Handler(new Pipeline(state, shared));
}
