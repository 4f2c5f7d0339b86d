// A FAKE of the Google endpoints the GCP key store talks to, written from Google's
// public API documentation (Secret Manager v1 REST, OAuth2 JWT-bearer grant for
// service accounts, the GCE metadata server). Not an emulator: it models what the
// store relies on and lets tests inject throttling, 5xx answers, hangs and resets.
//
// One HTTPS server (certificate from a throw-away test CA) serves all three:
//   POST /token                                                    OAuth2 token endpoint
//   GET  /computeMetadata/v1/instance/service-accounts/default/token   metadata server
//   /v1/projects/<project>/secrets…                               Secret Manager
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { crc32c } from '../../src/internal/gcp-crc32c.js';
import { createTestPki } from '../../../server/test/helpers/tls-client.js';

/** A service account the fake's token endpoint accepts. */
export interface FakeServiceAccount {
  readonly clientEmail: string;
  readonly clientId: string;
  readonly privateKeyId: string;
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  readonly publicKey: KeyObject;
}

/** One request as the fake saw it. */
export interface FakeRequest {
  readonly method: string;
  /** Path without query, not decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** Parsed JSON, form fields (token endpoint) or undefined. */
  readonly body: unknown;
}

/** What a fault hook makes the fake do instead of answering normally. */
export type FakeFault = { readonly status: number; readonly body?: unknown } | 'hang' | 'reset';

export interface FakeSecretVersion {
  data: Buffer;
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED';
}

export interface FakeSecret {
  readonly versions: Map<number, FakeSecretVersion>;
  nextVersion: number;
}

export interface FakeGcpOptions {
  /** Lifetime of issued access tokens in seconds. Default 3600. */
  readonly tokenTtlSeconds?: number;
  /** Largest page a listing returns (Google caps `pageSize` at 25 000). */
  readonly maxPageSize?: number;
}

/** Google's JSON error shape. */
export function googleErrorBody(code: number, status: string, message: string): unknown {
  return { error: { code, message, status } };
}

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
/** Secret Manager's payload limit. */
const MAX_PAYLOAD = 64 * 1024;

/** The fake. Start it with {@link FakeGcp.start}; `close()` it in `afterAll`. */
export class FakeGcp {
  readonly projectId = 'kes-fake-project';
  /** Resource names carry the project number, as the real service answers. */
  readonly projectNumber = '123456789012';
  readonly secrets = new Map<string, FakeSecret>();
  readonly requests: FakeRequest[] = [];
  readonly account: FakeServiceAccount;
  /** PEM of the CA that issued the server certificate. */
  readonly ca: string;
  url = '';
  tokenTtlSeconds: number;
  maxPageSize: number;
  /** Called for every request before it is served; a non-undefined result replaces the answer. */
  fault: ((req: FakeRequest) => FakeFault | undefined) | undefined;
  /** Access tokens issued (token endpoint and metadata server). */
  tokensIssued = 0;
  /** Scopes of the last token request (`scope` claim or metadata `scopes`). */
  lastScopes = '';
  readonly #tokens = new Map<string, number>();
  readonly #hung: ServerResponse[] = [];
  readonly #server: Server;

  private constructor(options: FakeGcpOptions) {
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.maxPageSize = options.maxPageSize ?? 25_000;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.account = {
      clientEmail: 'kes@kes-fake-project.iam.gserviceaccount.com',
      clientId: '100000000000000000001',
      privateKeyId: randomBytes(20).toString('hex'),
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey,
    };
    const pki = createTestPki();
    this.ca = pki.ca.certificatePem;
    this.#server = createServer({ cert: pki.server.certificatePem, key: pki.server.privateKeyPem }, (req, res) => this.#handle(req, res));
  }

  /** Starts a fake on 127.0.0.1 and a free port. */
  static async start(options: FakeGcpOptions = {}): Promise<FakeGcp> {
    const fake = new FakeGcp(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    fake.url = `https://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  /** Base URL of the fake metadata server. */
  get metadataUrl(): string {
    return this.url;
  }

  /** The four `credentials` fields of the config file, as the store's options take them. */
  get credentials(): { clientEmail: string; clientId: string; privateKeyId: string; privateKey: string } {
    const a = this.account;
    return { clientEmail: a.clientEmail, clientId: a.clientId, privateKeyId: a.privateKeyId, privateKey: a.privateKey };
  }

  /** Writes a service-account JSON file (as the Cloud console downloads it, token_uri = this fake) into `dir`. */
  writeServiceAccountFile(dir: string): string {
    const a = this.account;
    const file = join(dir, 'service-account.json');
    const doc = {
      type: 'service_account',
      project_id: this.projectId,
      private_key_id: a.privateKeyId,
      private_key: a.privateKey,
      client_email: a.clientEmail,
      client_id: a.clientId,
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: this.tokenUrl,
    };
    writeFileSync(file, JSON.stringify(doc, null, 2), { mode: 0o600 });
    return file;
  }

  /** Makes every issued access token invalid (as a revocation or an early expiry would). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** Places a secret with the given versions directly (interop tests, half-created secrets). */
  put(id: string, versions: readonly Buffer[]): void {
    const secret: FakeSecret = { versions: new Map(), nextVersion: 1 };
    for (const data of versions) secret.versions.set(secret.nextVersion++, { data: Buffer.from(data), state: 'ENABLED' });
    this.secrets.set(id, secret);
  }

  /** Drops hanging requests and open connections (between tests). */
  reset(): void {
    for (const res of this.#hung.splice(0)) res.destroy();
    this.fault = undefined;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.reset();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        body = Object.fromEntries(new URLSearchParams(text));
      } else if (text) {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = text;
        }
      }
      const request: FakeRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      this.requests.push(request);
      const fault = this.fault?.(request);
      if (fault === 'hang') {
        this.#hung.push(res);
        return;
      }
      if (fault === 'reset') {
        req.socket.destroy();
        return;
      }
      send(res, fault ? reply(fault.status, fault.body ?? googleErrorBody(fault.status, 'UNKNOWN', 'injected fault')) : this.#route(request));
    });
  }

  #route(req: FakeRequest): Reply {
    if (req.path === '/token' && req.method === 'POST') return this.#token(req);
    if (req.path === '/computeMetadata/v1/instance/service-accounts/default/token' && req.method === 'GET') return this.#metadata(req);
    const m = /^\/v1\/projects\/([^/]+)\/secrets(?:\/([^/]+))?(\/versions\/([^/]+))?$/.exec(req.path);
    if (!m) return reply(404, googleErrorBody(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}`));
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const expires = this.#tokens.get(token);
    if (expires === undefined || expires <= Date.now()) {
      return reply(401, googleErrorBody(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.'));
    }
    const project = decodeURIComponent(m[1]!);
    if (project !== this.projectId && project !== this.projectNumber) {
      return reply(403, googleErrorBody(403, 'PERMISSION_DENIED', `Permission denied on resource project ${project}.`));
    }
    const base = `projects/${this.projectNumber}/secrets`;
    if (m[2] === undefined) {
      if (req.method === 'POST') return this.#createSecret(req, base);
      if (req.method === 'GET') return this.#listSecrets(req, base);
      return reply(405, googleErrorBody(405, 'METHOD_NOT_ALLOWED', 'method not allowed'));
    }
    const segment = decodeURIComponent(m[2]);
    if (m[3] === undefined) {
      if (req.method === 'DELETE') {
        if (!this.secrets.delete(segment)) return reply(404, googleErrorBody(404, 'NOT_FOUND', `Secret [${base}/${segment}] not found.`));
        return reply(200, {});
      }
      if (req.method === 'POST' && segment.endsWith(':addVersion')) return this.#addVersion(req, base, segment.slice(0, -':addVersion'.length));
      return reply(405, googleErrorBody(405, 'METHOD_NOT_ALLOWED', 'method not allowed'));
    }
    const version = decodeURIComponent(m[4]!);
    if (req.method === 'GET' && version.endsWith(':access')) return this.#access(base, segment, version.slice(0, -':access'.length));
    return reply(405, googleErrorBody(405, 'METHOD_NOT_ALLOWED', 'method not allowed'));
  }

  #issue(): Reply {
    const token = `ya29.fake-${randomBytes(24).toString('base64url')}`;
    this.#tokens.set(token, Date.now() + this.tokenTtlSeconds * 1000);
    this.tokensIssued++;
    return reply(200, { access_token: token, expires_in: this.tokenTtlSeconds, token_type: 'Bearer' });
  }

  /** OAuth2 JWT-bearer grant (RFC 7523): the assertion must be an RS256 JWT signed by the registered key. */
  #token(req: FakeRequest): Reply {
    const form = (req.body ?? {}) as Record<string, string>;
    const bad = (description: string): Reply => reply(400, { error: 'invalid_grant', error_description: description });
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return reply(400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type.' });
    }
    const parts = String(form.assertion ?? '').split('.');
    if (parts.length !== 3) return bad('Invalid JWT.');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return bad('Invalid JWT.');
    }
    const a = this.account;
    if (header.alg !== 'RS256' || claims.iss !== a.clientEmail) return bad('Invalid grant: account not found');
    if (header.kid !== undefined && header.kid !== a.privateKeyId) return bad('Invalid JWT Signature.');
    const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), a.publicKey, Buffer.from(parts[2]!, 'base64url'));
    if (!ok) return bad('Invalid JWT Signature.');
    const now = Math.floor(Date.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (claims.aud !== this.tokenUrl) return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    if (!(iat <= now + 60 && exp > now && exp - iat <= 3600)) {
      return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    if (typeof claims.scope !== 'string' || claims.scope === '')
      return reply(400, { error: 'invalid_scope', error_description: 'Empty or missing scope not allowed.' });
    this.lastScopes = claims.scope;
    return this.#issue();
  }

  #metadata(req: FakeRequest): Reply {
    if (req.headers['metadata-flavor'] !== 'Google') {
      return { status: 403, body: 'Missing Metadata-Flavor:Google header.', contentType: 'text/html' };
    }
    this.lastScopes = req.query.get('scopes') ?? '';
    return this.#issue();
  }

  #createSecret(req: FakeRequest, base: string): Reply {
    const id = req.query.get('secretId') ?? '';
    if (!SECRET_ID.test(id)) return reply(400, googleErrorBody(400, 'INVALID_ARGUMENT', 'Invalid secret id.'));
    const body = req.body as { replication?: { automatic?: unknown; userManaged?: unknown } } | undefined;
    if (!body?.replication || (body.replication.automatic === undefined && body.replication.userManaged === undefined)) {
      return reply(400, googleErrorBody(400, 'INVALID_ARGUMENT', 'Secret.replication is required.'));
    }
    if (this.secrets.has(id)) return reply(409, googleErrorBody(409, 'ALREADY_EXISTS', `Secret [${base}/${id}] already exists.`));
    this.secrets.set(id, { versions: new Map(), nextVersion: 1 });
    return reply(200, { name: `${base}/${id}`, replication: body.replication, createTime: new Date().toISOString(), etag: '"fake"' });
  }

  #addVersion(req: FakeRequest, base: string, id: string): Reply {
    const secret = this.secrets.get(id);
    if (!secret) return reply(404, googleErrorBody(404, 'NOT_FOUND', `Secret [${base}/${id}] not found.`));
    const payload = (req.body as { payload?: { data?: unknown; dataCrc32c?: unknown } } | undefined)?.payload;
    if (typeof payload?.data !== 'string') return reply(400, googleErrorBody(400, 'INVALID_ARGUMENT', 'Payload is required.'));
    const data = Buffer.from(payload.data, 'base64');
    if (data.byteLength > MAX_PAYLOAD) return reply(400, googleErrorBody(400, 'INVALID_ARGUMENT', 'Secret Payload cannot be larger than 64KiB.'));
    if (payload.dataCrc32c !== undefined && String(payload.dataCrc32c) !== String(crc32c(data))) {
      return reply(400, googleErrorBody(400, 'INVALID_ARGUMENT', 'Checksum mismatch.'));
    }
    const n = secret.nextVersion++;
    secret.versions.set(n, { data, state: 'ENABLED' });
    return reply(200, { name: `${base}/${id}/versions/${n}`, createTime: new Date().toISOString(), state: 'ENABLED' });
  }

  #access(base: string, id: string, version: string): Reply {
    const secret = this.secrets.get(id);
    const n = version === 'latest' ? Math.max(0, ...(secret?.versions.keys() ?? [])) : Number(version);
    const v = secret?.versions.get(n);
    if (!secret || !v) return reply(404, googleErrorBody(404, 'NOT_FOUND', `Secret Version [${base}/${id}/versions/${version}] not found.`));
    if (v.state !== 'ENABLED') {
      return reply(400, googleErrorBody(400, 'FAILED_PRECONDITION', `Secret Version [${base}/${id}/versions/${n}] is in ${v.state} state.`));
    }
    return reply(200, { name: `${base}/${id}/versions/${n}`, payload: { data: v.data.toString('base64'), dataCrc32c: String(crc32c(v.data)) } });
  }

  /** Listing in creation order (not sorted: the client must sort), `name:"x"` / `name:x` substring filters, opaque page tokens. */
  #listSecrets(req: FakeRequest, base: string): Reply {
    const filter = req.query.get('filter') ?? '';
    let needle = '';
    if (filter) {
      const f = /^name:(?:"([^"]*)"|([A-Za-z0-9_-]+))$/.exec(filter);
      if (!f) return reply(400, googleErrorBody(400, 'INVALID_ARGUMENT', 'Invalid filter.'));
      needle = f[1] ?? f[2] ?? '';
    }
    const names = [...this.secrets.keys()].map((id) => `${base}/${id}`).filter((n) => n.includes(needle));
    const requested = Number(req.query.get('pageSize') ?? '0');
    const size = Math.min(requested > 0 ? requested : this.maxPageSize, this.maxPageSize);
    const tokenText = req.query.get('pageToken') ?? '';
    let offset = 0;
    if (tokenText) {
      const t = /^off-(\d+)$/.exec(Buffer.from(tokenText, 'base64url').toString('utf8'));
      if (!t) return reply(400, googleErrorBody(400, 'INVALID_ARGUMENT', 'Invalid page token.'));
      offset = Number(t[1]);
    }
    const page = names.slice(offset, offset + size);
    const next = offset + size < names.length ? Buffer.from(`off-${offset + size}`).toString('base64url') : undefined;
    return reply(200, {
      ...(page.length ? { secrets: page.map((name) => ({ name, replication: { automatic: {} } })) } : {}),
      ...(next ? { nextPageToken: next } : {}),
      totalSize: names.length,
    });
  }
}

/** One answer of the fake. */
interface Reply {
  readonly status: number;
  readonly body: unknown;
  /** Default JSON; otherwise `body` is sent as text. */
  readonly contentType?: string;
}

function reply(status: number, body: unknown): Reply {
  return { status, body };
}

function send(res: ServerResponse, r: Reply): void {
  const type = r.contentType ?? 'application/json; charset=UTF-8';
  res.writeHead(r.status, { 'content-type': type }).end(r.contentType ? String(r.body) : JSON.stringify(r.body));
}
