/**
 * A FAKE Fortanix DSM (SDKMS) server for tests: an HTTPS server, with a CA of its own
 * generated at start, that implements the few REST calls the key store makes, written
 * from Fortanix's public API documentation (no emulator of DSM exists):
 *
 * - `GET  /sys/v1/health` → 204
 * - `POST /sys/v1/session/auth` (`Authorization: Basic <api key>`) → `{token_type, expires_in, access_token, entity_id}`
 * - `POST /sys/v1/session/terminate` (bearer) → 204
 * - `PUT  /crypto/v1/keys` (import) → the object's metadata; 409 `sobject already exists`
 * - `POST /crypto/v1/keys/export` `{name}` or `{kid}` → the object with its base64 `value`
 * - `GET  /crypto/v1/keys?name=&group_id=&sort=name:asc|name:desc|kid&start=&limit=&offset=` → an array
 *   (`start` is exclusive; `limit` defaults to 100)
 * - `DELETE /crypto/v1/keys/{kid}` → 204; 404 `sobject does not exist`
 *
 * Crypto calls accept a session bearer or the API key as Basic credential, as DSM does.
 * Errors are plain-text bodies, as DSM sends them. Hooks inject failures (throttling,
 * 5xx, hangs), expire sessions, and reproduce upstream's listing assumption (a server
 * that ignores `start`). Test-only code.
 */
import { randomUUID } from 'node:crypto';
import { createPrivateKey } from 'node:crypto';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import { createSelfSignedCertificate } from '@kes/core';

/** A security object as the fake keeps it. */
export interface FakeSobject {
  kid: string;
  name: string;
  obj_type: string;
  group_id: string;
  key_ops: string[];
  enabled: boolean;
  /** Base64 of the object's value, exactly as it was imported. */
  value: string;
  created_at: string;
  creator: { app: string };
}

/** A failure the fake answers with instead of doing its work. */
export type FakeFortanixFailure = 403 | 429 | 500 | 502 | 503 | 'hang' | 'reset';

/** One request the fake saw. */
export interface FakeFortanixRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

/** Options of {@link startFakeFortanix}. */
export interface FakeFortanixOptions {
  /** The application API key the fake accepts (base64 of `<app id>:<secret>`; generated when absent). */
  readonly apiKey?: string;
  /** `expires_in` of new sessions, in seconds. Default 600. */
  readonly sessionTtlSeconds?: number;
  /** Groups that exist besides the default group. */
  readonly groups?: readonly string[];
}

/** A running fake. */
export interface FakeFortanix {
  /** `https://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** PEM of the CA that signed the fake's certificate. */
  readonly caPem: string;
  /** The API key the fake accepts. */
  readonly apiKey: string;
  /** The application's id (the user part of the API key). */
  readonly appId: string;
  /** The group objects land in when the request names none. */
  readonly defaultGroup: string;
  /** Every object, by kid. */
  readonly objects: Map<string, FakeSobject>;
  /** Every request, in order. */
  readonly requests: FakeFortanixRequest[];
  /** Live session tokens. */
  readonly sessions: Map<string, { expires: number }>;
  /** How many sessions were terminated through the API. */
  terminated: number;
  /** When true the listing ignores `start` (what upstream's loop assumes never happens). */
  ignoreListStart: boolean;
  /** Places an object as another writer (e.g. upstream KES) would have; returns it. */
  put(name: string, valueBase64: string, extra?: Partial<FakeSobject>): FakeSobject;
  /** The object called `name`. */
  byName(name: string): FakeSobject | undefined;
  /** The next `count` requests matching `match` (default: all but health) fail with `failure`. */
  fail(failure: FakeFortanixFailure, count?: number, match?: (method: string, path: string) => boolean): void;
  /** Expires every session at once (as if their lifetime ran out). */
  expireSessions(): void;
  /** Ends hung requests and clears failures. */
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_GROUP = '4a6e1f0c-3b2d-4c5e-8f7a-9b0c1d2e3f40';
const MAX_BODY = 1 << 20;

/** DSM prints times as `YYYYMMDDTHHMMSSZ`. */
function dsmTime(d: Date): string {
  return `${d.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;
}

/** The object's metadata as a listing or an import answer shows it (no value). */
function metadata(o: FakeSobject): Record<string, unknown> {
  const { value: _value, ...rest } = o;
  return { ...rest, acct_id: 'c5a4f1e2-0000-4000-8000-000000000001', origin: 'External', state: 'Active' };
}

/** Starts a fake DSM on 127.0.0.1 and a free port. */
export async function startFakeFortanix(options: FakeFortanixOptions = {}): Promise<FakeFortanix> {
  const ca = createSelfSignedCertificate({ keyType: 'ecdsa-p256', commonName: 'fake Fortanix DSM test CA', isCA: true, validityDays: 1 });
  const cert = createSelfSignedCertificate({
    keyType: 'ecdsa-p256',
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    extKeyUsage: ['serverAuth'],
    validityDays: 1,
    issuer: { certificatePem: ca.certificatePem, privateKey: createPrivateKey(ca.privateKeyPem) },
  });
  const appId = randomUUID();
  const apiKey = options.apiKey ?? Buffer.from(`${appId}:${randomUUID()}-secret`).toString('base64');
  const groups = new Set([DEFAULT_GROUP, ...(options.groups ?? [])]);
  const ttl = options.sessionTtlSeconds ?? 600;
  const byName = new Map<string, FakeSobject>();
  const hung: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let failures: { failure: FakeFortanixFailure; left: number; match: (m: string, p: string) => boolean } | undefined;

  const fake: FakeFortanix = {
    endpoint: '',
    caPem: ca.certificatePem,
    apiKey,
    appId,
    defaultGroup: DEFAULT_GROUP,
    objects: new Map(),
    requests: [],
    sessions: new Map(),
    terminated: 0,
    ignoreListStart: false,
    put(name, valueBase64, extra = {}) {
      const o: FakeSobject = {
        kid: randomUUID(),
        name,
        obj_type: 'OPAQUE',
        group_id: DEFAULT_GROUP,
        key_ops: ['EXPORT', 'APPMANAGEABLE'],
        enabled: true,
        value: valueBase64,
        created_at: dsmTime(new Date()),
        creator: { app: appId },
        ...extra,
      };
      fake.objects.set(o.kid, o);
      byName.set(o.name, o);
      return o;
    },
    byName: (name) => byName.get(name),
    fail(failure, count = 1, match = (_m, p) => p !== '/sys/v1/health') {
      failures = { failure, left: count, match };
    },
    expireSessions() {
      for (const s of fake.sessions.values()) s.expires = 0;
    },
    reset() {
      failures = undefined;
      fake.ignoreListStart = false;
      for (const res of hung.splice(0)) res.destroy();
    },
    async close() {
      fake.reset();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  // Both return the response so a handler can `return text(…)` in one line.
  const text = (res: ServerResponse, status: number, message: string): ServerResponse =>
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(message);
  const json = (res: ServerResponse, status: number, body: unknown): ServerResponse =>
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));

  /** The caller's identity: a live session bearer, or the API key as Basic credential. */
  const authenticated = (authorization: string | undefined): 'ok' | 'expired' | 'none' => {
    if (authorization === `Basic ${apiKey}`) return 'ok';
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    if (!m) return 'none';
    const s = fake.sessions.get(m[1]!);
    if (!s) return 'none';
    return s.expires > Date.now() ? 'ok' : 'expired';
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): ServerResponse | undefined => {
    const url = new URL(req.url ?? '/', 'https://fake');
    const method = req.method ?? '';
    const path = url.pathname;
    const authorization = req.headers.authorization;
    let body: unknown;
    if (raw !== '') {
      try {
        body = JSON.parse(raw) as unknown;
      } catch {
        return text(res, 400, 'request body is not valid JSON');
      }
    }
    fake.requests.push({ method, path, query: url.searchParams, authorization, body });

    if (failures && failures.left > 0 && failures.match(method, path)) {
      failures.left--;
      const f = failures.failure;
      if (f === 'hang') return void hung.push(res);
      if (f === 'reset') return void req.socket.destroy();
      const message = { 403: 'Insufficient permissions', 429: 'Too many requests', 503: 'Service unavailable' } as Record<number, string>;
      return text(res, f, message[f] ?? 'Internal server error');
    }

    if (method === 'GET' && path === '/sys/v1/health') return void res.writeHead(204).end();

    if (method === 'POST' && path === '/sys/v1/session/auth') {
      if (authorization !== `Basic ${apiKey}`) return text(res, 401, 'Invalid username or password');
      const token = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
      fake.sessions.set(token, { expires: Date.now() + ttl * 1000 });
      return json(res, 200, { token_type: 'Bearer', expires_in: ttl, access_token: token, entity_id: appId });
    }

    const who = authenticated(authorization);
    if (who === 'expired') return text(res, 401, 'Session expired');
    if (who === 'none') return text(res, 401, 'Authentication required');

    if (method === 'POST' && path === '/sys/v1/session/terminate') {
      const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
      if (token) fake.sessions.delete(token);
      fake.terminated++;
      return void res.writeHead(204).end();
    }

    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;

    if (method === 'PUT' && path === '/crypto/v1/keys') {
      if (typeof b.name !== 'string' || b.name === '') return text(res, 400, 'missing field `name`');
      if (b.obj_type !== 'OPAQUE') return text(res, 400, 'only OPAQUE objects are supported by this fake');
      if (typeof b.value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b.value)) return text(res, 400, 'invalid base64 in `value`');
      const group = typeof b.group_id === 'string' ? b.group_id : DEFAULT_GROUP;
      if (!groups.has(group)) return text(res, 404, 'group does not exist');
      if (byName.has(b.name)) return text(res, 409, 'sobject already exists');
      const o = fake.put(b.name, b.value, {
        group_id: group,
        key_ops: Array.isArray(b.key_ops) ? b.key_ops.map(String) : [],
        enabled: b.enabled !== false,
      });
      return json(res, 200, metadata(o));
    }

    if (method === 'POST' && path === '/crypto/v1/keys/export') {
      const o = typeof b.kid === 'string' ? fake.objects.get(b.kid) : typeof b.name === 'string' ? byName.get(b.name) : undefined;
      if (!o) return text(res, 404, 'sobject does not exist');
      if (!o.key_ops.includes('EXPORT')) return text(res, 403, 'operation EXPORT is not allowed for this sobject');
      return json(res, 200, { ...metadata(o), value: o.value });
    }

    if (method === 'GET' && path === '/crypto/v1/keys') {
      const q = url.searchParams;
      let list = [...fake.objects.values()];
      const name = q.get('name');
      if (name !== null) list = list.filter((o) => o.name === name);
      const group = q.get('group_id');
      if (group !== null) list = list.filter((o) => o.group_id === group);
      const [field = 'kid', order = 'asc'] = (q.get('sort') ?? 'kid').split(':');
      if ((field !== 'kid' && field !== 'name') || (order !== 'asc' && order !== 'desc')) return text(res, 400, 'invalid sort');
      const keyOf = (o: FakeSobject): string => (field === 'name' ? o.name : o.kid);
      list.sort((x, y) => (keyOf(x) < keyOf(y) ? -1 : keyOf(x) > keyOf(y) ? 1 : 0));
      if (order === 'desc') list.reverse();
      const start = q.get('start');
      if (start !== null && !fake.ignoreListStart) list = list.filter((o) => (order === 'asc' ? keyOf(o) > start : keyOf(o) < start));
      const offset = Number(q.get('offset') ?? 0);
      const limit = Number(q.get('limit') ?? 100);
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000)
        return text(res, 400, 'invalid limit or offset');
      return json(res, 200, list.slice(offset, offset + limit).map(metadata));
    }

    const del = /^\/crypto\/v1\/keys\/([^/]+)$/.exec(path);
    if (method === 'DELETE' && del) {
      const o = fake.objects.get(decodeURIComponent(del[1]!));
      if (!o) return text(res, 404, 'sobject does not exist');
      fake.objects.delete(o.kid);
      byName.delete(o.name);
      return void res.writeHead(204).end();
    }

    return text(res, 404, `no route for ${method} ${path}`);
  };

  const server: Server = createServer({ cert: cert.certificatePem, key: cert.privateKeyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return text(res, 413, 'request body too large');
      handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  (fake as { endpoint: string }).endpoint = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return fake;
}
