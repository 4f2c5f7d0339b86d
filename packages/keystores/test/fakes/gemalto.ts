/**
 * A FAKE Thales CipherTrust Manager for tests: the few REST API v1 calls KES uses,
 * written from the public CipherTrust Manager API documentation (no emulator of the
 * appliance exists). HTTPS with a throw-away CA, so the key store's CA option is
 * exercised.
 *
 * Modelled:
 * - `POST /api/v1/auth/tokens` with `grant_type: refresh_token` → `{jwt, duration,
 *   token_type: "Bearer", …}`; JWTs expire after `duration` seconds and are bound to
 *   the domain of the refresh token (empty domain = root);
 * - `Authorization: Bearer <jwt>` on every `/api/v1/vault/*` call (401 otherwise);
 * - `POST /api/v1/vault/secrets` `{name, dataType, material}` → 201, 409 on a taken name;
 * - `POST /api/v1/vault/secrets/{id}/export[?type=name]` → `{…, material}`;
 * - `DELETE /api/v1/vault/secrets/{id}[?type=name]` → 204 / 404;
 * - `GET /api/v1/vault/secrets?limit=&skip=` → `{skip, limit, total, resources: […]}`,
 *   newest first (the client must sort), `limit` capped by the server;
 * - `GET /` (the web UI) → 200 HTML, what upstream's status probe reads.
 *
 * Hooks inject failures: a status for the next N (matching) requests, hanging requests,
 * expiring every JWT at once, a `total` that lies.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createPrivateKey } from 'node:crypto';
import { createSelfSignedCertificate } from '@kes/core';

/** One stored secret. */
export interface FakeSecret {
  readonly id: string;
  readonly name: string;
  readonly dataType: string;
  readonly material: string;
  readonly createdAt: string;
}

/** One request as the fake saw it. */
export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** The parsed JSON body, if any. */
  readonly body: unknown;
  /** The Authorization header. */
  readonly authorization: string | undefined;
}

/** Options of {@link startFakeCipherTrust}. */
export interface FakeCipherTrustOptions {
  /** Accepted refresh tokens → their domain (`''` = root). Default `{ 'fake-refresh-token': '' }`. */
  readonly refreshTokens?: Record<string, string>;
  /** `duration` of issued JWTs in seconds. Default 300 (CipherTrust's default). */
  readonly jwtLifetimeSeconds?: number;
  /** Largest `limit` the server honours. Default 1000. */
  readonly maxPageSize?: number;
  /** Plain HTTP instead of HTTPS. */
  readonly http?: boolean;
}

/** A running fake. */
export interface FakeCipherTrust {
  /** Base URL, e.g. `https://127.0.0.1:41234`. */
  readonly url: string;
  /** PEM of the CA that issued the server certificate (empty for `http`). */
  readonly caPem: string;
  /** Every request so far. */
  readonly requests: FakeRequest[];
  /** Successful logins so far. */
  logins(): number;
  /** The secrets of a domain (`''` = root), by name. Mutable. */
  secrets(domain?: string): Map<string, FakeSecret>;
  /** Stores a secret directly, as another client (e.g. upstream KES) would have. */
  put(name: string, material: string, options?: { readonly domain?: string; readonly dataType?: string }): void;
  /** The next `count` requests whose path matches `match` (default: all but logins) answer `status`. */
  failNext(status: number, count?: number, match?: RegExp): void;
  /** While true, requests whose path matches `hangMatch` get no answer. */
  hang: boolean;
  hangMatch: RegExp;
  /** Added to `total` of list answers (a server whose count is off). */
  totalOffset: number;
  /** Added to the `skip` a list answer reports (a server whose paging is out of sync). */
  skipOffset: number;
  /** Makes every issued JWT invalid, as if it had expired or been revoked. */
  expireJwts(): void;
  /** Accepts (or, with `undefined`, revokes) a refresh token. */
  setRefreshToken(token: string, domain: string | undefined): void;
  close(): Promise<void>;
}

const LOGIN_PATH = '/api/v1/auth/tokens';

/** Starts a fake CipherTrust Manager on 127.0.0.1, port 0. */
export async function startFakeCipherTrust(options: FakeCipherTrustOptions = {}): Promise<FakeCipherTrust> {
  const refreshTokens = new Map(Object.entries(options.refreshTokens ?? { 'fake-refresh-token': '' }));
  const lifetime = options.jwtLifetimeSeconds ?? 300;
  const maxPage = options.maxPageSize ?? 1000;
  const domains = new Map<string, Map<string, FakeSecret>>();
  const jwts = new Map<string, { domain: string; expires: number }>();
  const requests: FakeRequest[] = [];
  const hung: ServerResponse[] = [];
  const failures: { status: number; left: number; match: RegExp }[] = [];
  let logins = 0;
  let sequence = 0;

  const secretsOf = (domain: string): Map<string, FakeSecret> => {
    let m = domains.get(domain);
    if (!m) domains.set(domain, (m = new Map()));
    return m;
  };
  const store = (domain: string, name: string, dataType: string, material: string): FakeSecret => {
    // createdAt gets a strictly increasing suffix so "newest first" is well defined.
    const s: FakeSecret = {
      id: randomUUID(),
      name,
      dataType,
      material,
      createdAt: `${new Date().toISOString()}#${String(sequence++).padStart(9, '0')}`,
    };
    secretsOf(domain).set(name, s);
    return s;
  };
  const meta = (s: FakeSecret) => ({ id: s.id, name: s.name, dataType: s.dataType, objectType: 'Secret Data', createdAt: s.createdAt.split('#')[0] });

  const reply = (res: ServerResponse, status: number, body?: unknown): undefined => {
    if (body === undefined) {
      res.writeHead(status).end();
      return undefined;
    }
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    return undefined;
  };
  const error = (res: ServerResponse, status: number, code: number, codeDesc: string): undefined => reply(res, status, { code, codeDesc });

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): undefined => {
    const url = new URL(req.url ?? '/', 'http://fake');
    let body: unknown;
    try {
      body = raw ? (JSON.parse(raw) as unknown) : undefined;
    } catch {
      body = undefined;
    }
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? '', path: url.pathname, query: url.search.replace(/^\?/, ''), body, authorization });

    if (fake.hang && fake.hangMatch.test(url.pathname)) {
      hung.push(res);
      return;
    }
    const failure = failures.find((f) => f.left > 0 && f.match.test(url.pathname));
    if (failure) {
      failure.left--;
      const texts: Record<number, string> = { 429: 'Too Many Requests', 500: 'NCERRInternal: internal server error', 503: 'Service Unavailable' };
      return error(res, failure.status, failure.status, texts[failure.status] ?? `HTTP ${failure.status}`);
    }

    if (url.pathname === '/' && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>CipherTrust Manager</title>');
      return;
    }

    if (url.pathname === LOGIN_PATH || url.pathname === `${LOGIN_PATH}/`) {
      if (req.method !== 'POST') return error(res, 405, 405, 'Method Not Allowed');
      const b = (body ?? {}) as Record<string, unknown>;
      if (b.grant_type !== 'refresh_token') return error(res, 400, 3, 'NCERRInvalidParamValue: unsupported grant_type');
      const domain = typeof b.domain === 'string' && b.domain !== '' && b.domain !== 'root' ? b.domain : '';
      const token = typeof b.refresh_token === 'string' ? b.refresh_token : '';
      if (!refreshTokens.has(token) || refreshTokens.get(token) !== domain) {
        return error(res, 401, 10, 'NCERRAuthFailed: invalid refresh token or domain');
      }
      logins++;
      const jwt = `fake.${randomBytes(18).toString('base64url')}.jwt`;
      jwts.set(jwt, { domain, expires: Date.now() + lifetime * 1000 });
      return reply(res, 200, {
        jwt,
        duration: lifetime,
        token_type: 'Bearer',
        client_id: 'fake-client',
        refresh_token_id: 'fake-refresh-id',
      });
    }

    if (!url.pathname.startsWith('/api/v1/vault/')) return error(res, 404, 4, 'NCERRResourceNotFound: no such route');

    // Every vault call needs a valid JWT (CipherTrust answers 401 without a JSON body
    // when the header is missing; with an expired token, 401 as well).
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    const session = m ? jwts.get(m[1]!) : undefined;
    if (!session) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('Unauthorized');
      return;
    }
    if (session.expires <= Date.now()) {
      jwts.delete(m![1]!);
      return error(res, 401, 1, 'Token is expired');
    }
    const secrets = secretsOf(session.domain);
    const parts = url.pathname.split('/').slice(4); // ['secrets', id?, 'export'?]
    if (parts[0] !== 'secrets') return error(res, 404, 4, 'NCERRResourceNotFound: no such route');
    const byName = url.searchParams.get('type') === 'name';
    const find = (id: string): FakeSecret | undefined => (byName ? secrets.get(id) : [...secrets.values()].find((s) => s.id === id));

    if (parts.length === 1 || (parts.length === 2 && parts[1] === '')) {
      if (req.method === 'POST') {
        const b = (body ?? {}) as Record<string, unknown>;
        if (typeof b.name !== 'string' || b.name === '') return error(res, 400, 3, 'NCERRInvalidParamValue: name is required');
        if (!['seed', 'password', 'blob'].includes(String(b.dataType))) return error(res, 400, 3, 'NCERRInvalidParamValue: invalid dataType');
        if (typeof b.material !== 'string') return error(res, 400, 3, 'NCERRInvalidParamValue: material must be a string');
        if (secrets.has(b.name)) return error(res, 409, 9, 'NCERRResourceAlreadyExists: a secret with this name already exists');
        return reply(res, 201, meta(store(session.domain, b.name, String(b.dataType), b.material)));
      }
      if (req.method === 'GET') {
        const limit = Math.min(Number(url.searchParams.get('limit') ?? 10) || 10, maxPage);
        const skip = Number(url.searchParams.get('skip') ?? 0) || 0;
        const all = [...secrets.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
        return reply(res, 200, {
          skip: skip + fake.skipOffset,
          limit,
          total: all.length + fake.totalOffset,
          messages: [],
          resources: all.slice(skip, skip + limit).map(meta),
        });
      }
      return error(res, 405, 405, 'Method Not Allowed');
    }

    const id = decodeURIComponent(parts[1] ?? '');
    if (parts.length === 3 && parts[2] === 'export' && req.method === 'POST') {
      const s = find(id);
      if (!s) return error(res, 404, 4, 'NCERRResourceNotFound: Resource not found');
      return reply(res, 200, { ...meta(s), material: s.material });
    }
    if (parts.length === 2 && req.method === 'DELETE') {
      const s = find(id);
      if (!s) return error(res, 404, 4, 'NCERRResourceNotFound: Resource not found');
      secrets.delete(s.name);
      return reply(res, 204);
    }
    return error(res, 404, 4, 'NCERRResourceNotFound: no such route');
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  };

  let server: Server;
  let caPem = '';
  if (options.http) {
    server = createHttpServer(listener);
  } else {
    const ca = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'fake CipherTrust CA', isCA: true, validityDays: 1 });
    const leaf = createSelfSignedCertificate({
      keyType: 'ecdsa-p256',
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      extKeyUsage: ['serverAuth'],
      validityDays: 1,
      issuer: { certificatePem: ca.certificatePem, privateKey: createPrivateKey(ca.privateKeyPem) },
    });
    caPem = ca.certificatePem;
    server = createHttpsServer({ cert: leaf.certificatePem, key: leaf.privateKeyPem }, listener);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const fake: FakeCipherTrust = {
    url: `${options.http ? 'http' : 'https'}://127.0.0.1:${port}`,
    caPem,
    requests,
    logins: () => logins,
    secrets: (domain = '') => secretsOf(domain),
    put(name, material, o = {}) {
      store(o.domain ?? '', name, o.dataType ?? 'seed', material);
    },
    failNext(status, count = 1, match = /^\/api\/v1\/vault\//) {
      failures.push({ status, left: count, match });
    },
    hang: false,
    hangMatch: /./,
    totalOffset: 0,
    skipOffset: 0,
    expireJwts() {
      jwts.clear();
    },
    setRefreshToken(token, domain) {
      if (domain === undefined) refreshTokens.delete(token);
      else refreshTokens.set(token, domain);
    },
    async close() {
      for (const r of hung.splice(0)) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
