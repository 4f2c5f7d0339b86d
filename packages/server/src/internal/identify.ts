/**
 * Who is calling (spec §5.1, §5.5): the identity of the certificate the TLS handshake
 * authenticated or, behind a trusted TLS proxy, of the certificate it forwards.
 *
 * Threat: identity spoofing. Only the handshake-authenticated leaf (the first certificate
 * the transport hands over) may become an identity; the chain after it is unverified
 * material an attacker can fill with anyone's public key. A forwarded certificate is
 * believed only from a configured proxy identity and, with `tls.auth: on`, only if one
 * of the configured CAs signed it.
 */
import type { X509Certificate } from 'node:crypto';
import { KesError, identifyPeer, identityOfCertificate, isKesError, parseForwardedCertificate } from '@kes/core';
import { splitHostPort } from '../address.js';
import type { PeerInfo } from '../handler.js';
import type { AnyRequest } from './http.js';
import type { ProxyState } from './state.js';

/** The caller: its identity and, behind a proxy, the client address the proxy forwarded. */
export interface Caller {
  readonly identity: string;
  readonly ip?: string;
}

/** Identifies callers; caches the identity per certificate list (one per connection). */
export class PeerIdentifier {
  /** The TLS layer hands the same frozen array for every request of a connection. */
  readonly #identities = new WeakMap<readonly X509Certificate[], string | KesError>();

  /**
   * The caller's identity. `override` (tests, `inject({ identity })`) stands in for the certificate.
   *
   * @throws ERR_KES_INSECURE_CONNECTION, ERR_KES_CLIENT_CERT_REQUIRED, ERR_KES_TOO_MANY_CLIENT_CERTS,
   *   ERR_KES_PROXY_NO_CERT, ERR_KES_PROXY_TOO_MANY_CERTS, ERR_KES_PROXY_INVALID_CERT, ERR_KES_NOT_ALLOWED.
   */
  identify(proxy: ProxyState | undefined, req: AnyRequest, peer: PeerInfo, override: string | undefined): Caller {
    if (!peer.tls) throw new KesError('ERR_KES_INSECURE_CONNECTION');
    let identity: string;
    if (override !== undefined) {
      identity = override;
    } else {
      const certs = peer.certificates;
      let cached = this.#identities.get(certs);
      if (cached === undefined) {
        try {
          // The first certificate is the handshake-authenticated leaf; the rest is unverified chain.
          cached = identifyPeer(certs[0], certs.slice(1));
        } catch (e) {
          cached = isKesError(e) ? e : new KesError('ERR_KES_CLIENT_CERT_REQUIRED', [], { cause: e });
        }
        this.#identities.set(certs, cached);
      }
      if (typeof cached !== 'string') throw cached;
      identity = cached;
    }
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
}

/** All values of a request header (handles repeated headers on HTTP/1.1 and HTTP/2). */
export function headerValues(req: AnyRequest, name: string): string[] {
  const distinct = (req as { headersDistinct?: Record<string, string[] | undefined> }).headersDistinct;
  if (distinct) return distinct[name] ?? [];
  const v = req.headers[name];
  if (v === undefined) return [];
  // URL-escaped PEM contains no commas, so a joined value can be split safely.
  return (Array.isArray(v) ? v : String(v).split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** First `X-Forwarded-For` entry, port stripped, `unknown` ignored. */
export function firstForwardedFor(values: readonly string[]): string | undefined {
  const first = values.join(',').split(',')[0]?.trim();
  if (!first || first.toLowerCase() === 'unknown') return undefined;
  const { host } = splitHostPort(first);
  // An unterminated `[` is no address.
  return host === '' || host.startsWith('[') ? undefined : host;
}

/** Forwarded certificate issued (and signed) by one of the CAs and currently valid. */
export function verifiedBy(cert: X509Certificate, cas: readonly X509Certificate[]): boolean {
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
