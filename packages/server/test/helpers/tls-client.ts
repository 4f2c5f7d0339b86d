// A small KES test client: node:https (HTTP/1.1) and node:http2 requests with a client
// certificate, plus helpers for log streams and handshake checks. Test-only code.
import { type X509Certificate, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { connect as h2connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createSelfSignedCertificate } from '@kes/core';
import type { SelfSignedCertificate, SelfSignedCertificateOptions } from '@kes/core';

/** TLS credentials of a test client. Leave cert/key out for a client without certificate. */
export interface ClientCredentials {
  readonly cert?: string;
  readonly key?: string;
  /** Trust anchor(s) for the server certificate. */
  readonly ca?: string | readonly string[];
  /** Highest TLS version the client offers (e.g. `'TLSv1.2'`). */
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface ClientRequest {
  readonly method?: string;
  /** Path incl. query, e.g. `/v1/key/create/my-key`. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
  /** A keep-alive agent to reuse a connection (see createAgent); default: a fresh connection. */
  readonly agent?: Agent;
}

export interface ClientResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Negotiated ALPN protocol (`http/1.1`, `h2`, or false). */
  readonly alpnProtocol: string | false;
  /** The certificate the server presented on this connection. */
  readonly serverCertificate: X509Certificate | undefined;
  /** Local port of the connection (to tell connections apart). */
  readonly localPort: number | undefined;
  text(): string;
  json<T = unknown>(): T;
}

function tlsOptions(creds: ClientCredentials): { cert?: string; key?: string; ca?: string[]; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } {
  return {
    ...(creds.maxVersion !== undefined ? { maxVersion: creds.maxVersion } : {}),
    ...(creds.cert !== undefined ? { cert: creds.cert } : {}),
    ...(creds.key !== undefined ? { key: creds.key } : {}),
    ...(creds.ca !== undefined ? { ca: typeof creds.ca === 'string' ? [creds.ca] : [...creds.ca] } : {}),
  };
}

type ConnectionInfo = Pick<ClientResponse, 'alpnProtocol' | 'serverCertificate' | 'localPort'>;

// Node may stop returning the peer certificate on a reused keep-alive socket (after TLS 1.3
// session tickets); the first value seen on a connection is its handshake certificate.
const serverCertificates = new WeakMap<TLSSocket, X509Certificate>();

function connectionInfo(socket: TLSSocket | undefined): ConnectionInfo {
  let cert = socket ? serverCertificates.get(socket) : undefined;
  if (socket && !cert) {
    cert = socket.getPeerX509Certificate();
    if (cert) serverCertificates.set(socket, cert);
  }
  return {
    alpnProtocol: socket?.alpnProtocol ?? false,
    serverCertificate: cert,
    localPort: socket?.localPort,
  };
}

function makeResponse(status: number, headers: IncomingHttpHeaders, body: Buffer, info: ConnectionInfo): ClientResponse {
  return {
    status,
    headers,
    body,
    ...info,
    text: () => body.toString('utf8'),
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}

/** A keep-alive agent with one socket, so consecutive requests share a TLS connection. */
export function createAgent(creds: ClientCredentials): Agent {
  return new Agent({ ...tlsOptions(creds), keepAlive: true, maxSockets: 1 });
}

/** One HTTP/1.1 request over TLS. Rejects when the connection fails (e.g. handshake refused). */
export function request(baseUrl: string, creds: ClientCredentials, req: ClientRequest): Promise<ClientResponse> {
  const url = new URL(req.path, baseUrl);
  return new Promise((resolve, reject) => {
    const r = httpsRequest(
      url,
      {
        method: req.method ?? 'GET',
        headers: req.headers ?? {},
        ...(req.agent !== undefined ? { agent: req.agent } : { agent: false, ...tlsOptions(creds) }),
      },
      (res: IncomingMessage) => {
        // Read the connection details now: a keep-alive agent takes the socket back at 'end'.
        const socket = res.socket as TLSSocket;
        const info = connectionInfo(socket);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve(makeResponse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks), info)));
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Opens an HTTP/2 session (ALPN h2 only). */
export function connectH2(baseUrl: string, creds: ClientCredentials): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(baseUrl, tlsOptions(creds));
    session.once('connect', () => {
      session.off('error', reject);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** One request on an HTTP/2 session. */
export function requestH2(session: ClientHttp2Session, req: ClientRequest): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': req.method ?? 'GET', ':path': req.path, ...(req.headers ?? {}) });
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = h as IncomingHttpHeaders;
    });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => {
      if (status === 0) reject(new Error('HTTP/2 stream ended without a response'));
      else resolve(makeResponse(status, headers, Buffer.concat(chunks), connectionInfo(session.socket as TLSSocket)));
    });
    // A session the server tore down ends the stream without any response.
    stream.on('close', () => {
      if (status === 0) reject(new Error('HTTP/2 stream closed without a response'));
    });
    stream.end(req.body);
  });
}

/** An open streaming response (e.g. `/v1/log/audit`). */
export interface OpenStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Complete lines received so far. */
  readonly lines: string[];
  /** Resolves when the server ends the response (or the connection closes). */
  readonly ended: Promise<void>;
  /** Resolves with the first line matching `predicate` (waits for it). */
  waitFor(predicate: (line: string) => boolean): Promise<string>;
  /** Client-side abort. */
  close(): void;
}

/** Opens a streaming GET and resolves once the response headers arrived. */
export function openStream(baseUrl: string, creds: ClientCredentials, path: string): Promise<OpenStream> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const r = httpsRequest(url, { method: 'GET', agent: false, ...tlsOptions(creds) }, (res) => {
      const lines: string[] = [];
      const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          lines.push(line);
          for (const w of [...waiters]) {
            if (w.pred(line)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(line);
            }
          }
        }
      });
      const ended = new Promise<void>((done) => {
        res.once('end', done);
        res.once('close', done);
        res.once('error', () => done());
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        lines,
        ended,
        waitFor: (pred) => {
          const hit = lines.find(pred);
          if (hit !== undefined) return Promise.resolve(hit);
          return new Promise((res2) => waiters.push({ pred, resolve: res2 }));
        },
        close: () => r.destroy(),
      });
    });
    r.on('error', reject);
    r.end();
  });
}

/**
 * Tries a request and reports whether the TLS connection was usable. A server that refuses
 * the client certificate closes the connection during/right after the handshake, which the
 * client sees as a socket error before any HTTP response.
 */
export async function tryRequest(
  baseUrl: string,
  creds: ClientCredentials,
  req: ClientRequest,
): Promise<{ ok: true; response: ClientResponse } | { ok: false; error: NodeJS.ErrnoException }> {
  try {
    return { ok: true, response: await request(baseUrl, creds, req) };
  } catch (error) {
    return { ok: false, error: error as NodeJS.ErrnoException };
  }
}

/** A throw-away PKI for one test file: a CA and a server certificate for 127.0.0.1/localhost signed by it. */
export interface TestPki {
  readonly ca: SelfSignedCertificate;
  readonly caKey: KeyObject;
  readonly server: SelfSignedCertificate;
  /** Issue another certificate signed by the CA. */
  issue(options?: Omit<SelfSignedCertificateOptions, 'issuer'>): SelfSignedCertificate;
  /** A server certificate (new key) for 127.0.0.1/localhost signed by the CA. */
  newServerCertificate(): SelfSignedCertificate;
}

/** Generates the test PKI at test time (no key is committed). */
export function createTestPki(): TestPki {
  const ca = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'kes-ts test CA', isCA: true, validityDays: 1 });
  const caKey = createPrivateKey(ca.privateKeyPem);
  const issue = (options: Omit<SelfSignedCertificateOptions, 'issuer'> = {}): SelfSignedCertificate =>
    createSelfSignedCertificate({ validityDays: 1, ...options, issuer: { certificatePem: ca.certificatePem, privateKey: caKey } });
  const newServerCertificate = (): SelfSignedCertificate =>
    issue({ keyType: 'ecdsa-p256', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], extKeyUsage: ['serverAuth'] });
  return { ca, caKey, server: newServerCertificate(), issue, newServerCertificate };
}

/** Client credentials from a generated certificate (or API-key certificate), trusting the test CA. */
export function credentials(
  pki: TestPki,
  cert?: { readonly certificatePem: string; readonly privateKeyPem: string },
  extra: Omit<ClientCredentials, 'cert' | 'key' | 'ca'> = {},
): ClientCredentials {
  return { ...extra, ca: pki.ca.certificatePem, ...(cert ? { cert: cert.certificatePem, key: cert.privateKeyPem } : {}) };
}
