/**
 * Connection-level pieces of `createKesServer()`: the peer's certificates as the handshake
 * left them, connection limits, and closing a connection whose request body was not read.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { KesError } from '@kes/core';
import type { ConnectionLimits } from '../options.js';
import type { AnyRequest } from './http.js';

/** Defaults of `ConnectionLimits`: idle keep-alive 90 s and header read 5 s as upstream (spec §1). */
const DEFAULT_LIMITS: Required<ConnectionLimits> = Object.freeze({
  maxConnections: 10_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 90_000,
});

/**
 * After a reply that left the request body unread, the connection gets a FIN and is then read
 * (and discarded) for this long before it is closed, so the client sees the reply, not a reset.
 */
const UNREAD_BODY_LINGER_MS = 500;

/**
 * The certificates the client presented: first the leaf the handshake authenticated
 * (`getPeerX509Certificate()`: the peer proved it holds this key), then the chain Node
 * links to it by issuer name, walking `issuerCertificate` until it repeats.
 *
 * Threat: the chain is linked by *names* only, and with `tls.auth: off` no signature on
 * it is checked, so an attacker can append a certificate with anyone's public key. Only
 * the first entry may ever become an identity (see `identifyPeer`).
 */
export function peerCertificates(socket: TLSSocket): X509Certificate[] {
  // Order matters: in Node 20, getPeerX509Certificate() on a server socket empties what a
  // later getPeerCertificate(true) reports as the chain, so the chain is read first.
  const detailed = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined) return [];
  // Both name the certificate the handshake authenticated; refuse the connection if not.
  if (!detailed?.raw?.equals(leaf.raw)) throw new Error('peer certificate mismatch');
  const out: X509Certificate[] = [leaf];
  const seen = new Set<string>([leaf.fingerprint256]);
  let c = detailed.issuerCertificate;
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * Called when a reply has been sent. If the client has not finished sending its body (the
 * route never reads one, or the reply came first: 403, 404, 400 for a declared length over
 * the limit), the connection is not kept alive.
 *
 * Threat: after a reply Node would otherwise keep reading and discarding the body, with no
 * limit: a client promising `Content-Length: 999999999` and trickling a byte every few
 * seconds held its connection for as long as it liked. The FIN goes out after the reply; the
 * rest of the body is read for a short linger only, so the client sees the reply rather than
 * a reset, and the connection is then destroyed.
 */
export function closeIfBodyUnread(req: IncomingMessage): void {
  if (req.complete) return;
  const socket = req.socket;
  socket.end();
  setTimeout(() => socket.destroy(), UNREAD_BODY_LINGER_MS).unref();
}

/** Responses Node has queued behind another one, per connection (see `closeWithConnection`). */
const queued = new WeakMap<Socket, Set<ServerResponse>>();

/**
 * For a pipelined HTTP/1.1 request whose response Node has queued behind an earlier one
 * (`res.socket` is still null): when the connection closes first, Node never attaches the
 * response and never emits its 'close', so it is given one here. One listener per
 * connection, however many requests are queued on it.
 *
 * Threat: a client that pipelined a request behind a slow one (a log stream) and left kept
 * that request in flight forever: a `/v1/log/*` stream stayed subscribed and buffered
 * events, and `close()` waited for it until its timeout.
 */
export function closeWithConnection(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  let set = queued.get(socket);
  if (set === undefined) {
    const waiting = new Set<ServerResponse>();
    set = waiting;
    queued.set(socket, waiting);
    socket.once('close', () => {
      for (const r of waiting) {
        if (!r.destroyed) {
          r.destroyed = true;
          r.emit('close');
        }
      }
      waiting.clear();
    });
  }
  set.add(res);
  res.once('close', () => set.delete(res));
}

/** True if the request announces a body (HTTP/1.1: a non-zero Content-Length, or Transfer-Encoding). */
export function hasBody(req: AnyRequest): boolean {
  const h = req.headers;
  return (h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined;
}

/** Validates the connection limits and fills in the defaults. */
export function resolveLimits(limits: ConnectionLimits | undefined): Required<ConnectionLimits> {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ConnectionLimits)[]) {
    const v = limits?.[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new KesError('ERR_KES_INVALID_ARGUMENT', [`limits.${key} must be a positive integer`]);
    }
    out[key] = v;
  }
  // Node measures both from the request's start; headers cannot be allowed longer than the whole.
  if (limits?.headersTimeoutMs === undefined) out.headersTimeoutMs = Math.min(out.headersTimeoutMs, out.requestTimeoutMs);
  if (out.headersTimeoutMs > out.requestTimeoutMs) {
    throw new KesError('ERR_KES_INVALID_ARGUMENT', ['limits.headersTimeoutMs must not exceed limits.requestTimeoutMs']);
  }
  return out;
}
