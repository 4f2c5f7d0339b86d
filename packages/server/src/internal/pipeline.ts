/**
 * The per-request pipeline (spec §2): path checks → route lookup → method check →
 * route timeout → authentication and authorization → the route's handler → error
 * reply, metrics and audit record.
 *
 * Hot path: nothing here allocates per request beyond the `Ctx` the handler gets and
 * the caller returned by identification; the route lookup is one or two map hits and
 * route timeouts share one timer (`deadline.ts`).
 */
import { KesError } from '@kes/core';
import type { PeerInfo } from '../handler.js';
import { causeChain, clientError } from './client-errors.js';
import type { Ctx, Shared } from './context.js';
import { DeadlineQueue } from './deadline.js';
import type { RouteDeadline } from './deadline.js';
import { HeldResponse } from './held-response.js';
import { replyAsteriskBadRequest, replyBadRequest, replyEmpty, replyError, replyNotFound, replyRedirect } from './http.js';
import type { AnyRequest, AnyResponse } from './http.js';
import { PeerIdentifier } from './identify.js';
import { auditEvent, auditLine } from './logs.js';
import type { ErrorContext } from './logs.js';
import { cleanPath, locationOf, printable, requestPath, unescapePath } from './router.js';
import type { State } from './state.js';

/** Status recorded for a request whose route timeout fired: the response was torn down without one. */
const TIMED_OUT = 0;

/** Serves requests against the current state; counts what is in flight for reloads and close. */
export class Pipeline {
  /** The state new requests start on; a reload swaps it, running requests keep theirs. */
  state: State;
  readonly shared: Shared;
  readonly #identifier = new PeerIdentifier();
  readonly #deadlines = new DeadlineQueue();
  #inflight = 0;
  #idle: (() => void)[] = [];

  constructor(state: State, shared: Shared) {
    this.state = state;
    this.shared = shared;
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /** Serves one request. Resolves when the response is complete and accounted for. */
  async serve(req: AnyRequest, res: AnyResponse, peer: PeerInfo, identityOverride: string | undefined): Promise<void> {
    const startMs = Date.now();
    const t0 = performance.now();
    const method = req.method ?? 'GET';
    const url = requestPath(req.url ?? '/');
    const ip = peer.remoteAddress ?? '';
    if (url === '*') {
      // The asterisk-form target: Go's server answers `OPTIONS *` itself, its mux refuses the rest.
      this.#audit(startMs, t0, ip, url, '', method === 'OPTIONS' ? replyEmpty(res) : replyAsteriskBadRequest(res), method);
      return;
    }
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);

    // Go rejects a malformed escape while parsing the request line, before the mux (plain 400).
    const decoded = unescapePath(rawPath);
    if (decoded === undefined) {
      this.#audit(startMs, t0, ip, rawPath, '', replyBadRequest(res), method);
      return;
    }
    const query = q < 0 ? '' : url.slice(q);
    // For logs and audit records; `decoded` keeps bytes that are not UTF-8 apart (see unescapePath).
    const path = decoded === rawPath ? decoded : printable(decoded);
    // ServeMux cleans the *escaped* path (`%2e%2e` and `%2F` are name bytes, not path syntax),
    // looks the cleaned path up (a subtree route without its slash redirects there at once),
    // and only then redirects to the cleaned path.
    const cleaned = cleanPath(rawPath);
    const m = this.state.router.match(cleaned);
    if (m.kind === 'redirect') {
      this.#audit(startMs, t0, ip, path, '', replyRedirect(res, method, m.location + query), method);
      return;
    }
    if (cleaned !== rawPath) {
      this.#audit(startMs, t0, ip, path, '', replyRedirect(res, method, locationOf(cleaned) + query), method);
      return;
    }
    if (m.kind === 'not-found') {
      this.#audit(startMs, t0, ip, path, '', replyNotFound(res), method);
      return;
    }

    const state = this.state;
    const route = m.route;
    state.inflight++;
    this.#inflight++;
    let status = 0;
    let identity = '';
    let clientIp = ip;
    let deadline: RouteDeadline | undefined;
    let metricStart = -1;
    let held: HeldResponse | undefined;
    let threw = false;
    const auditFile = this.shared.logs.auditFile;
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
          const who = this.#identifier.identify(state.proxy, req, peer, identityOverride);
          identity = who.identity;
          if (who.ip !== undefined) clientIp = who.ip;
          if (route.auth === 'policy') {
            // A placeholder admin (`disabled`, uppercase hex) must never grant admin rights.
            if (!state.adminEnabled && state.engine.isAdmin(identity)) throw new KesError('ERR_KES_NOT_ALLOWED');
            state.engine.verify(identity, decoded);
          }
        } catch (e) {
          if (route.auth === 'policy') throw e;
          identity = ''; // identify-only: a missing/ambiguous certificate is not an error
        }
      }
      // 4. With an audit file, the reply waits for its record (see held-response.ts); a
      // fail-closed file that cannot be written refuses the request before it runs.
      if (auditFile !== undefined) {
        if (auditFile.options.failClosed && !(await auditFile.ready())) throw new KesError('ERR_KES_AUDIT_UNAVAILABLE');
        if (!route.streams) held = new HeldResponse();
      }
      // 5. The route's handler.
      if (route.counted) metricStart = this.shared.metrics.begin();
      const ctx: Ctx = {
        shared: this.shared,
        state,
        req,
        res: held === undefined ? res : (held as unknown as AnyResponse),
        route,
        resource: m.resource,
        path: decoded,
        method,
        identity,
        ip: clientIp,
        deadline,
      };
      status = await route.handler(ctx);
    } catch (e) {
      threw = true;
      held?.discard();
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
          this.shared.logs.error('request timed out', { method, path, ip: clientIp, identity });
        }
      }
      if (held !== undefined && auditFile !== undefined && !threw && status !== TIMED_OUT) {
        status = await this.#commit(held, res, auditFile, startMs, t0, clientIp, path, identity, status, method);
        if (metricStart >= 0) this.shared.metrics.end(metricStart, status);
      } else {
        if (metricStart >= 0) this.shared.metrics.end(metricStart, status);
        this.#audit(startMs, t0, clientIp, path, identity, status, method);
      }
      if (--state.inflight === 0 && state !== this.state) state.onDrained?.();
      if (--this.#inflight === 0 && this.#idle.length > 0) {
        const waiting = this.#idle;
        this.#idle = [];
        for (const w of waiting) w();
      }
    }
  }

  /** Error reply for anything thrown by auth or a handler; uncatalogued errors become a generic 500. */
  #fail(res: AnyResponse, e: unknown, where: ErrorContext): number {
    const err = clientError(e);
    if (err.status >= 500) {
      this.shared.logs.error(err.message, where, causeChain(err.cause));
    }
    const w = res as { headersSent?: boolean; writableEnded?: boolean; end(): void };
    if (w.headersSent) {
      if (!w.writableEnded) w.end();
      return err.status;
    }
    return replyError(res, err.status, err.message);
  }

  /**
   * Writes the audit record of a held reply, then releases the reply. When the write
   * fails, a fail-closed file turns the reply into 503 (its body, which may hold a data
   * key, is wiped unsent); otherwise the reply goes out and the record waits in the
   * file's backlog. Returns the status the client got.
   */
  async #commit(
    held: HeldResponse,
    res: AnyResponse,
    file: NonNullable<Shared['logs']['auditFile']>,
    startMs: number,
    t0: number,
    ip: string,
    path: string,
    identity: string,
    status: number,
    method: string,
  ): Promise<number> {
    let event = auditEvent(startMs, t0, ip, path, identity, status);
    const written = await file.append(auditLine(event), false).then(
      () => true,
      () => false,
    );
    if (!written && file.options.failClosed) {
      held.discard();
      const err = new KesError('ERR_KES_AUDIT_UNAVAILABLE');
      status = replyError(res, err.status, err.message);
      event = auditEvent(startMs, t0, ip, path, identity, status);
    } else {
      held.release(res);
    }
    if (!written) file.keep(auditLine(event));
    this.shared.logs.audit(event, method, true);
    return status;
  }

  #audit(startMs: number, t0: number, ip: string, path: string, identity: string, code: number, method: string): void {
    const logs = this.shared.logs;
    if (!logs.wantsAudit) return;
    logs.audit(auditEvent(startMs, t0, ip, path, identity, code), method);
  }
}
